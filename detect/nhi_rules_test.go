package detect

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
	gldetect "github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
)

// Secret-shaped values for the nhi rules, generated at test time: the
// examples below are templates in which § stands for a fresh value.

const (
	lowerAlnum  = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnumChars  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	cryptChars  = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upperHex    = "0123456789ABCDEF"
	base64Chars = alnumChars + "+/"
)

// genPassword is a strong password: an alphanumeric first character, then
// letters, digits and punctuation.
// genAWSSecretSlash is a secret access key starting with / or +, which
// gitleaks' generic rule misses.
func genAWSSecretSlash() string {
	return harness.RandomString("/+", 1) + harness.AWSSecretAccessKey()[1:]
}

func genPassword() string {
	return harness.RandomString(alnumChars, 1) + harness.RandomString(alnumChars+"!#+-_@^*", 7) +
		harness.RandomString("0123456789", 1) + harness.RandomString(alnumChars+"!#+-_@^*", 7)
}

// genURLPassword is a password that needs no percent-encoding in a URI.
func genURLPassword() string {
	return harness.RandomString(alnumChars, 1) + harness.RandomString(alnumChars+"-_.~!*", 15)
}

func genDockerAuth() string {
	return base64.StdEncoding.EncodeToString([]byte("deploy-bot:" + genPassword()))
}

func genBcrypt() string { return "$2b$12$" + harness.RandomString(cryptChars, 53) }
func genSHA512Crypt() string {
	return "$6$" + harness.RandomString(cryptChars, 16) + "$" + harness.RandomString(cryptChars, 86)
}
func genSHA256Crypt() string {
	return "$5$rounds=5000$" + harness.RandomString(cryptChars, 16) + "$" + harness.RandomString(cryptChars, 43)
}
func genYescrypt() string {
	return "$y$j9T$" + harness.RandomString(cryptChars, 22) + "$" + harness.RandomString(cryptChars, 43)
}
func genMD5Crypt() string {
	return "$1$" + harness.RandomString(cryptChars, 8) + "$" + harness.RandomString(cryptChars, 22)
}
func genApr1() string {
	return "$apr1$" + harness.RandomString(cryptChars, 8) + "$" + harness.RandomString(cryptChars, 22)
}
func genHtpasswdSHA() string { return "{SHA}" + harness.Base64(20) }

func genDjangoKey() string {
	return harness.RandomString(lowerAlnum, 1) + harness.RandomString(lowerAlnum+"!@#^&*(-_=+)", 49)
}
func genFlaskKey() string   { return harness.Hex(48) }
func genLaravelKey() string { return "base64:" + harness.Base64(32) }
func genWordPressKey() string {
	// No '%': the decode pass percent-decodes "%XX" and reports the
	// decoded value again (see the package note).
	return harness.RandomString(alnumChars+"!#$&()*+,-./:;<=>?@[]^_`{|}~", 64)
}
func genVaultService() string  { return "hvs." + harness.RandomString(alnumChars, 24) }
func genVaultBatch() string    { return "hvb.AAAAAQ" + harness.RandomString(alnumChars+"_-", 90) }
func genVaultRecovery() string { return "hvr." + harness.RandomString(alnumChars, 24) }
func genBootstrap() string {
	return harness.RandomString(lowerAlnum, 6) + "." + harness.RandomString(lowerAlnum, 16)
}
func genS3Secret() string  { return harness.RandomString(base64Chars, 40) }
func genWinSCP() string    { return harness.RandomString(upperHex, 64) }
func genKubeToken() string { return harness.RandomString(alnumChars, 48) }

// genFileZilla is a saved FileZilla password. It holds a character outside
// the base64 alphabet: the detector's decode pass re-scans the decoded
// text, and a password made only of base64 characters (length a multiple
// of 4) is then reported a second time in clear (see the package note).
func genFileZilla() string {
	return base64.StdEncoding.EncodeToString([]byte(genPassword() + "!"))
}

// genLetters is a mixed-case, letters-only password: allowlists for
// lower-case words must not swallow it in configuration files (gitleaks
// joins a rule's allowlist regexes into one, so a leading (?i) would leak
// into every alternative). In code, letters-only literals are identifiers
// and nhi-password-assignment does not report them.
func genLetters() string {
	return harness.RandomString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 14)
}
func genMavenEnc() string  { return "{" + harness.Base64(33) + "}" }
func genNpmLegacy() string { return harness.Base64(24) }
func genClientKeyData() string {
	// Random bytes, not a PEM block: the default private-key rule would
	// also find a decoded PEM (the test of real kubeconfigs covers that).
	return harness.Base64(96)
}

// genPuTTYLines is the Private-Lines body of a PuTTY key (§ is the whole
// body, several base64 lines).
func genPuTTYLines() string {
	b := harness.Base64(48 * 3)
	var lines []string
	for len(b) > 64 {
		lines = append(lines, b[:64])
		b = b[64:]
	}
	lines = append(lines, b)
	return strings.Join(lines, "\n")
}

// tp is a true-positive example: the rule fires on text (§ replaced by a
// generated value) and reports exactly that value as its secret.
type tp struct {
	path string
	text string
	gen  func() string
}

// fp is a false-positive example: the rule does not fire.
type fp struct {
	path string
	text string
}

type ruleExamples struct {
	id  string
	tps []tp
	fps []fp
}

var nhiRuleExamples = []ruleExamples{
	{id: "nhi-uri-credentials",
		tps: []tp{
			{"app/config.py", `DATABASE_URL = "postgresql://app_user:§@db.internal:5432/app"`, genURLPassword},
			{".env", "MONGO_URI=mongodb+srv://svc-reports:§@cluster0.ab1cd.mongodb.net/reports?retryWrites=true", genURLPassword},
			{"docker-compose.yml", "      - CELERY_BROKER_URL=amqp://worker:§@rabbitmq:5672//", genURLPassword},
			{"deploy/values.yaml", "redisUrl: rediss://default:§@cache.prod.example.net:6380/0", genURLPassword},
			{"scripts/sync.sh", "lftp -e 'mirror' ftp://backup:§@ftp.corp.lan/exports", genURLPassword},
			{"src/db.go", "dsn := \"mysql://reporting:§@tcp(10.0.0.5:3306)/sales\"", genURLPassword},
		},
		fps: []fp{
			{".env", "DATABASE_URL=postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST}:5432/app"},
			{"settings.py", `DATABASE_URL = "postgres://user:password@localhost/db"`},
			{"README.txt", "connect with mysql://root:<password>@localhost:3306/test"},
			{"config.yml", "url: mongodb://admin:changeme@mongo:27017"},
			{"app.py", `url = f"redis://{user}:{pw}@{host}:6379"`},
			{"src/db_test.go", `dsn := "postgres://app:Qx81LmzP0s9@localhost/app"`},
			{"docs/setup.md", "postgres://app:Qx81LmzP0s9@localhost/app"},
		}},
	{id: "nhi-url-basic-auth",
		tps: []tp{
			{".git-credentials", "https://octocat:§@github.com", genURLPassword},
			{"ci/mirror.sh", "git push https://mirror-bot:§@git.corp.example.com/platform/api.git main", genURLPassword},
			{"setup.cfg", "index-url = https://pypi-reader:§@nexus.internal.io/repository/pypi/simple", genURLPassword},
			{"pip.conf", "extra-index-url=http://svc:§@packages.corp.local/simple/", genURLPassword},
		},
		fps: []fp{
			{".git-credentials", "https://x-access-token:ghp_" + strings.Repeat("a1B2", 9) + "@github.com"},
			{"Makefile", "curl https://$(USER):$(TOKEN)@artifacts.example.org/file"},
			{"main.go", `u := "https://user:pass@example.com/"`},
			{"clone.sh", "git clone https://${GIT_USER}:${GIT_TOKEN}@github.com/org/repo.git"},
			{"app.js", "fetch(`https://${user}:${password}@api.service.com`)"},
			{"docs/index.md", "https://alice:Qx81LmzP0s9@example.org"},
			{"pkg/url.go", `// parse "http://user:password@host:port/path"`},
		}},
	{id: "nhi-connection-string-password",
		tps: []tp{
			{"appsettings.json", `"Default": "Server=sql01.corp.local;Database=Orders;User Id=orders_app;Password=§;TrustServerCertificate=True"`, genURLPassword},
			{"src/main/resources/application.properties", "spring.datasource.url=jdbc:sqlserver://db01:1433;databaseName=hr;user=hr_app;password=§;encrypt=true", genURLPassword},
			{"odbc.ini", "ConnStr=Driver={ODBC Driver 18 for SQL Server};Server=tcp:db.example.net,1433;Uid=etl;Pwd=§;", genURLPassword},
			{"config/db.yml", "url: jdbc:mysql://mysql.prod:3306/shop?user=shop&password=§&useSSL=true", genURLPassword},
		},
		fps: []fp{
			{"appsettings.json", `"Default": "Server=.;Database=Orders;Trusted_Connection=True;"`},
			{"app.config", `connectionString="Server=db;Database=x;User Id=sa;Password=${SA_PASSWORD};"`},
			{"web.config", `connectionString="Data Source=db;User ID=sa;Password=<password>;"`},
			{"Program.cs", `var cs = $"Server={host};Database=x;User Id={user};Password={pwd};";`},
			{"notes.txt", "Password=Qx81LmzP0s9 on its own is not a connection string"},
		}},
	{id: "nhi-netrc-password",
		tps: []tp{
			{"home/dev/.netrc", "machine api.heroku.com\n  login dev@example.com\n  password §\n", genPassword},
			{"home/dev/_netrc", "machine ftp.corp.local login backup password §", genPassword},
			{".netrc", "default login anonymous password §\n", genPassword},
		},
		fps: []fp{
			{"notes.txt", "machine ftp.corp.local login backup password Qx81LmzP0s9"},
			{".netrc", "machine ci.example.com login bot password $CI_TOKEN"},
			{".netrc", "machine example.com login user password xxxxxx"},
			{".netrc", "# fill in: machine <host> login <user> password <password>"},
		}},
	{id: "nhi-pgpass-password",
		tps: []tp{
			{"home/dev/.pgpass", "db.prod.internal:5432:orders:orders_ro:§\n", genPassword},
			{".pgpass", "# comment\n*:*:*:postgres:§", genPassword},
			{"AppData/Roaming/postgresql/pgpass.conf", "localhost:5432:*:admin:§\r", genPassword},
		},
		fps: []fp{
			{"hosts.txt", "db.prod.internal:5432:orders:orders_ro:Qx81LmzP0s9"},
			{".pgpass", "# hostname:port:database:username:password"},
			{".pgpass", "db:5432:app:app:changeme"},
			{".pgpass", "db:5432:app:app:${PGPASSWORD}"},
		}},
	{id: "nhi-docker-config-auth",
		tps: []tp{
			{"home/dev/.docker/config.json", "{\n  \"auths\": {\n    \"registry.example.com\": {\n      \"auth\": \"§\"\n    }\n  }\n}", genDockerAuth},
			{".dockercfg", `{"https://index.docker.io/v1/":{"auth":"§","email":"ops@example.com"}}`, genDockerAuth},
			{"k8s/.dockerconfigjson", `{"auths":{"ghcr.io":{"username":"bot","auth": "§"}}}`, genDockerAuth},
		},
		fps: []fp{
			{"package.json", `{"auth": "` + base64.StdEncoding.EncodeToString([]byte("user:Qx81LmzP0s9")) + `"}`},
			{".docker/config.json", `{"credsStore": "desktop", "auths": {"ghcr.io": {}}}`},
			{".docker/config.json", `{"auths": {"r.io": {"auth": ""}}}`},
			{".docker/config.json", `{"auths": {"r.io": {"auth": "xxxxxxxxxxxx"}}}`},
		}},
	{id: "nhi-npmrc-auth",
		tps: []tp{
			{"home/dev/.npmrc", "//registry.npmjs.org/:_authToken=§\n", genNpmLegacy},
			{"web/.npmrc", "registry=https://nexus.corp/repository/npm/\n_auth = §\nalways-auth=true", genDockerAuth},
			{".npmrc", "//nexus.corp/repository/npm/:_password=\"§\"", genNpmLegacy},
		},
		fps: []fp{
			{".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}"},
			{".npmrc", "//registry.npmjs.org/:_authToken=npm_" + strings.Repeat("aB3d", 9)},
			{"config.ini", "_authToken=" + strings.Repeat("aB3d", 6)},
			{".npmrc", "//npm.pkg.github.com/:_authToken=ghp_" + strings.Repeat("a1B2", 9)},
		}},
	{id: "nhi-pypirc-password",
		tps: []tp{
			{"home/dev/.pypirc", "[distutils]\nindex-servers = internal\n\n[internal]\nrepository = https://nexus.corp/pypi/\nusername = uploader\npassword = §\n", genPassword},
			{".pypirc", "[pypi]\nusername: legacy\npassword: §", genPassword},
			{".pypirc", "[testpypi]\n  password=§", genPassword},
		},
		fps: []fp{
			{".pypirc", "[pypi]\nusername = __token__\npassword = pypi-" + strings.Repeat("AgEIcHlwaS5vcmc", 4)},
			{".pypirc", "[pypi]\npassword = <your password>"},
			{"setup.cfg", "[upload]\npassword = Qx81LmzP0s9"},
			{".pypirc", "[pypi]\npassword = ${PYPI_PASSWORD}"},
		}},
	{id: "nhi-maven-settings-password",
		tps: []tp{
			{"home/dev/.m2/settings.xml", "<settings>\n <servers>\n  <server>\n   <id>nexus</id>\n   <username>deployer</username>\n   <password>§</password>\n  </server>\n </servers>\n</settings>", genPassword},
			{".m2/settings.xml", "<server><id>central</id><username>ci</username><password>§</password></server>", genMavenEnc},
			{"ci/settings-release.xml", "<server><id>gpg</id><passphrase>§</passphrase></server>", genPassword},
		},
		fps: []fp{
			{".m2/settings.xml", "<server><id>nexus</id><password>${env.NEXUS_PASSWORD}</password></server>"},
			{"pom.xml", "<server><password>Qx81LmzP0s9</password></server>"},
			{".m2/settings.xml", "<password>changeme</password>"},
			{".m2/settings.xml", "<password></password>"},
		}},
	{id: "nhi-filezilla-password",
		tps: []tp{
			{"AppData/Roaming/FileZilla/sitemanager.xml", "<Server>\n <Host>ftp.corp.local</Host>\n <User>backup</User>\n <Pass encoding=\"base64\">§</Pass>\n</Server>", genFileZilla},
			{".config/filezilla/recentservers.xml", "<Server><Host>10.0.0.9</Host><Pass>§</Pass></Server>", genPassword},
			{".config/filezilla/filezilla.xml", "<Pass encoding=\"base64\">§</Pass>", genFileZilla},
		},
		fps: []fp{
			{"server.xml", `<Pass encoding="base64">UXg4MUxtelAwczk=</Pass>`},
			{"sitemanager.xml", "<Server><Host>ftp</Host><Logontype>2</Logontype></Server>"},
			{"sitemanager.xml", `<Pass encoding="base64" />`},
		}},
	{id: "nhi-winscp-password",
		tps: []tp{
			{"AppData/Roaming/WinSCP.ini", "[Sessions\\deploy@web01]\nHostName=web01\nUserName=deploy\nPassword=§\n", genWinSCP},
			{"backup/winscp-sessions.ini", "Password=§", genWinSCP},
			{"export/WinSCP.reg", "[HKEY_CURRENT_USER\\Software\\Martin Prikryl\\WinSCP 2\\Sessions\\web]\n\"Password\"=\"§\"", genWinSCP},
		},
		fps: []fp{
			{"config.ini", "Password=A35C435B9556B1237C2BCE7B6D3E1F2A"},
			{"WinSCP.ini", "[Configuration\\Interface]\nMasterPassword=0"},
			{"WinSCP.ini", "Password=secret"},
		}},
	{id: "nhi-s3cfg-secret",
		tps: []tp{
			{"home/dev/.s3cfg", "[default]\naccess_key = AKIA" + strings.Repeat("Q", 16) + "\nsecret_key = §\nhost_base = s3.amazonaws.com\n", genS3Secret},
			{".s3cfg", "[default]\ngpg_passphrase = §", genPassword},
			{"ops/s3cfg", "secret_key=§", genS3Secret},
		},
		fps: []fp{
			{"config.ini", "secret_key = " + strings.Repeat("aB3d", 10)},
			{".s3cfg", "secret_key = "},
			{".s3cfg", "[default]\nuse_https = True\nsignature_v2 = False"},
		}},
	{id: "nhi-kubeconfig-credential",
		tps: []tp{
			{"home/dev/.kube/config", "users:\n- name: ci\n  user:\n    token: §\n", genKubeToken},
			{"clusters/prod.kubeconfig", "users:\n- name: admin\n  user:\n    client-certificate-data: LS0t\n    client-key-data: §\n", genClientKeyData},
			{"kubeconfig-staging", "users:\n- name: basic\n  user:\n    username: admin\n    password: §\n", genPassword},
			{"etc/kubernetes/admin.conf", "    client-key-data: §", genClientKeyData},
		},
		fps: []fp{
			{"deploy.yaml", "    token: " + strings.Repeat("aB3d", 12)},
			{".kube/config", "users:\n- name: sso\n  user:\n    token: eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl"},
			{".kube/config", "users:\n- name: gke\n  user:\n    exec:\n      command: gke-gcloud-auth-plugin"},
			{".kube/config", "    client-key-data: DATA+OMITTED"},
		}},
	{id: "nhi-password-assignment",
		tps: []tp{
			{"config/database.json", `{"host": "db", "password": "§", "user": "app"}`, genPassword},
			{"wp-config.php", "define( 'DB_PASSWORD', '§' );", genPassword},
			{"config/app.php", "'password' => '§',", genPassword},
			{"src/db.js", "const dbPassword = \"§\";", genPassword},
			{"settings.py", "EMAIL_HOST_PASSWORD = '§'", genPassword},
			{".env", `SMTP_PASSWORD="§"`, genPassword},
			{"config/secrets.yml", "  client_secret: '§'", genPassword},
			{"tomcat-users.xml", `<user username="deployer" password="§" roles="manager-script"/>`, genPassword},
			{"src/Main.java", `String pwd = "§";`, genPassword},
		},
		fps: []fp{
			{"config.js", `password: process.env.DB_PASSWORD,`},
			{"settings.py", `PASSWORD = os.getenv("DB_PASSWORD")`},
			{"config.yml", `password: "${DB_PASSWORD}"`},
			{"app.py", `conn = connect(password="%(password)s")`},
			{"values.yaml", `password: "{{ .Values.db.password }}"`},
			{"app.php", `'password' => '<password>',`},
			{"config.json", `{"password": "changeme"}`},
			{"config.json", `{"password": "********"}`},
			{"config.json", `{"password": ""}`},
			{"config.json", `{"password": "your_password"}`},
			{"config.json", `{"secret": "kube-system"}`},
			{"login.js", `if (password == "Qx81LmzP0s9") {}`},
			{"src/auth_test.go", `Password: "Qx81LmzP0s9",`},
			{"main.tf", `password = "Qx81LmzP0s9Ab"`},
			{"form.html", `<input type="password" name="password" placeholder="Password">`},
			{"enums.go", `LayerAttributesKeysGangliaPassword = "GangliaPassword"`},
			{"api.go", `const opRotateSecret = "RotateSecret"`},
			{"client.go", `r.Session.DoRequest("SoftLayer_Account_Password", "getAccount", nil)`},
			{"lb.go", `bypass := "AzureServices2"`},
			{"models.json", `"Password": "SomeKindOfPassword123!@#",`},
		}},
	{id: "nhi-password-config",
		tps: []tp{
			{".env", "DB_HOST=db\nDB_PASSWORD=§\n", genPassword},
			{"config/application.properties", "spring.datasource.password=§", genPassword},
			{"config.ini", "[db]\npassword = §\n", genPassword},
			{"config.ini", "[db]\npassword = §\n", genLetters},
			{"docker-compose.yml", "    environment:\n      POSTGRES_PASSWORD: §\n", genPassword},
			{".env.production", "export STRIPE_WEBHOOK_SECRET=§", genPassword},
		},
		fps: []fp{
			{".env", "DB_PASSWORD="},
			{".env", "DB_PASSWORD=${VAULT_DB_PASSWORD}"},
			{"config.yml", "password: !vault |"},
			{"config.ini", "password = changeme"},
			{"config.yml", "secret: kube-system-token"},
			{"config.yml", "password_file: /run/secrets/db"},
			{"app.py", "DB_PASSWORD = Qx81LmzP0s9"},
			{"config.yml", "  password: null"},
			{"config.ini", "pass = 12345678"},
		}},
	{id: "nhi-password-xml",
		tps: []tp{
			{"src/main/resources/applicationContext.xml", `<property name="password" value="§"/>`, genPassword},
			{"web.config", `<add key="SmtpPassword" value="§" />`, genPassword},
			{"conf/hibernate.cfg.xml", "<hibernate-configuration><connection.password>§</connection.password></hibernate-configuration>", genPassword},
			{"server.xml", "<keystorePassword>§</keystorePassword>", genPassword},
		},
		fps: []fp{
			{"context.xml", `<property name="password" value="${db.password}"/>`},
			{"pom.xml", "<password>changeme</password>"},
			{"web.config", `<add key="SmtpPassword" value="" />`},
			{"form.xml", "<passwordField>visible</passwordField>"},
			{"docs/config.xml", "<password>Qx81LmzP0s9</password>"},
		}},
	{id: "nhi-bcrypt-hash",
		tps: []tp{
			{"db/seeds.sql", "INSERT INTO users (email, password_hash) VALUES ('admin@corp.local', '§');", genBcrypt},
			{"auth/htpasswd", "admin:§", func() string { return "$2y$10$" + harness.RandomString(cryptChars, 53) }},
			{"config/users.yml", "  password_digest: §\n", genBcrypt},
		},
		fps: []fp{
			{"db/seeds.sql", "VALUES ('$2b$12$" + strings.Repeat("a", 20) + "')"},
			{"main.go", `const prefix = "$2a$10$"`},
			{"spec/fixtures/users.yml", "password_digest: " + "$2b$12$" + strings.Repeat("x1Y2z3", 8) + "abcde"},
			{"auth.go", `// bcrypt hashes look like $2b$<cost>$<salt+hash>`},
		}},
	{id: "nhi-sha-crypt-hash",
		tps: []tp{
			{"etc/shadow", "root:§:19700:0:99999:7:::\n", genSHA512Crypt},
			{"ansible/users.yml", "    password: \"§\"", genSHA256Crypt},
			{"backup/shadow", "deploy:§:19800:0:99999:7:::", genYescrypt},
		},
		fps: []fp{
			{"etc/shadow", "daemon:*:19700:0:99999:7:::"},
			{"etc/shadow", "nobody:!:19700::::::"},
			{"doc.txt", "the format is $6$salt$hash"},
			{"tests/shadow", "root:$6$" + strings.Repeat("ab", 8) + "$" + strings.Repeat("Xy1", 28) + "Xy:1::::::"},
		}},
	{id: "nhi-md5-crypt-hash",
		tps: []tp{
			{"etc/nginx/.htpasswd", "admin:§\n", genApr1},
			{"etc/shadow", "legacy:§:18000:0:99999:7:::", genMD5Crypt},
			{"cisco/running-config", "enable secret 5 §", genMD5Crypt},
		},
		fps: []fp{
			{"replace.sh", `sed -e 's/\(a\)/$1$2/'`},
			{"etc/shadow", "legacy:$1$short$tooshort:18000"},
			{"Makefile", "echo $1$2$3"},
		}},
	{id: "nhi-htpasswd-sha1",
		tps: []tp{
			{"etc/apache2/.htpasswd", "admin:§\n", genHtpasswdSHA},
			{"conf/htpasswd", "svc-monitor:§", genHtpasswdSHA},
			{".htpasswd-staging", "# users\nqa:§\n", genHtpasswdSHA},
		},
		fps: []fp{
			{"users.txt", "admin:{SHA}" + harness.Base64(20)},
			{".htpasswd", "admin:{SHA}short="},
			{".htpasswd", "# admin:{SHA}<hash>"},
		}},
	{id: "nhi-django-secret-key",
		tps: []tp{
			{"mysite/settings.py", "SECRET_KEY = '§'\n", genDjangoKey},
			{"mysite/settings/prod.py", `SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "§")`, genDjangoKey},
			{"config.py", "class Config:\n    SECRET_KEY = \"§\"\n", genFlaskKey},
		},
		fps: []fp{
			{"settings.py", "SECRET_KEY = os.environ['DJANGO_SECRET_KEY']"},
			{"settings.py", "SECRET_KEY = 'django-insecure-change-me-in-production-please'"},
			{"settings.py", "SECRET_KEY = 'your-secret-key-here-000000000000'"},
			{"tests/settings.py", "SECRET_KEY = 'k3j4h5g6f7d8s9a0p1o2i3u4y5t6r7e8'"},
		}},
	{id: "nhi-flask-secret-key",
		tps: []tp{
			{"app.py", "app = Flask(__name__)\napp.secret_key = '§'\n", genFlaskKey},
			{"app/__init__.py", `app.config["SECRET_KEY"] = "§"`, genFlaskKey},
			{"wsgi.py", "app.config.update(SECRET_KEY='§', DEBUG=False)", genFlaskKey},
		},
		fps: []fp{
			{"app.py", "app.secret_key = os.urandom(24)"},
			{"app.py", `app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]`},
			{"app.py", "app.secret_key = 'replace-me-with-something-random'"},
			{"app.py", "app.secret_key = 'short'"},
		}},
	{id: "nhi-rails-secret-key-base",
		tps: []tp{
			{"config/secrets.yml", "production:\n  secret_key_base: §\n", func() string { return harness.Hex(128) }},
			{"config/environments/production.rb", `config.secret_key_base = "§"`, func() string { return harness.Hex(128) }},
			{"deploy/.env", "SECRET_KEY_BASE=§", func() string { return harness.Hex(128) }},
		},
		fps: []fp{
			{"config/secrets.yml", "production:\n  secret_key_base: <%= ENV[\"SECRET_KEY_BASE\"] %>"},
			{"config/application.rb", "config.secret_key_base = Rails.application.credentials.secret_key_base"},
			{"config/secrets.yml", "test:\n  secret_key_base: " + strings.Repeat("0", 128)},
		}},
	{id: "nhi-rails-master-key",
		tps: []tp{
			{"config/master.key", "§", func() string { return harness.Hex(32) }},
			{"app/config/master.key", "§\n", func() string { return harness.Hex(32) }},
			{"config/credentials/production.key", "§\n", func() string { return harness.Hex(32) }},
		},
		fps: []fp{
			{"config/master.key.sample", harness.Hex(32)},
			{"config/api.key", harness.Hex(32)},
			{"config/master.key", strings.Repeat("0", 32)},
			{"config/master.key", "# put the key here\n"},
		}},
	{id: "nhi-laravel-app-key",
		tps: []tp{
			{".env", "APP_NAME=Shop\nAPP_ENV=production\nAPP_KEY=§\n", genLaravelKey},
			{"config/app.php", "'key' => env('APP_KEY', '§'),", genLaravelKey},
			{"docker-compose.yml", "      APP_KEY: \"§\"", genLaravelKey},
		},
		fps: []fp{
			{".env.example", "APP_KEY="},
			{".env", "APP_KEY=${LARAVEL_APP_KEY}"},
			{".env", "APP_KEY=base64:" + strings.Repeat("A", 43) + "="},
			{".env", "APP_KEY=SomeRandomString"},
		}},
	{id: "nhi-wordpress-auth-key",
		tps: []tp{
			{"wp-config.php", "define( 'AUTH_KEY',         '§' );", genWordPressKey},
			{"public/wp-config.php", "define('NONCE_SALT', '§');", genWordPressKey},
			{"wp-config.php", `define("LOGGED_IN_KEY", "§");`, genWordPressKey},
		},
		fps: []fp{
			{"wp-config-sample.php", "define( 'AUTH_KEY',         'put your unique phrase here' );"},
			{"wp-config.php", "define( 'AUTH_KEY', getenv('WP_AUTH_KEY') );"},
			{"wp-config.php", "define( 'DB_NAME', 'wordpress_production_db' );"},
		}},
	{id: "nhi-aws-secret-access-key",
		tps: []tp{
			{"deploy/provider.tf", "provider \"aws\" {\n  secret_key = \"§\"\n}", genAWSSecretSlash},
			{".aws/credentials", "[default]\naws_secret_access_key = §", genAWSSecretSlash},
			{"docker-compose.yml", "      AWS_SECRET_ACCESS_KEY: \"§\"", harness.AWSSecretAccessKey},
		},
		fps: []fp{
			{".aws/credentials", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
			{"deploy.sh", "export AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"},
			{"settings.py", "AWS_SECRET_ACCESS_KEY = os.environ['AWS_SECRET_ACCESS_KEY']"},
			{"x.tf", "secret_key = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""},
			{"aws_test.go", "SecretAccessKey: \"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\","},
			{"docs/duo.mdx", "    \"secret_key\": \"8C7THtrIigh2rPZQMbguugt8IUftWhMRCOBzbuyz\","},
		}},
	{id: "nhi-vault-token",
		tps: []tp{
			{".env", "VAULT_TOKEN=§\n", genVaultService},
			{"deploy.sh", "vault login §", genVaultRecovery},
			{"ci.yml", "  VAULT_TOKEN: '§'", genVaultBatch},
		},
		fps: []fp{
			{".env", "VAULT_TOKEN=hvs.short"},
			// Token-shaped but a single repeated character: no entropy.
			{".env", "VAULT_TOKEN=hvs." + strings.Repeat("a", 28)},
			{".env", "VAULT_TOKEN=$VAULT_ROOT_TOKEN"},
			{"tokens.go", `prefix := "hvs."`},
		}},
	{id: "nhi-putty-private-key",
		tps: []tp{
			{"keys/deploy.ppk", "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIPx\nAAAA\nPrivate-Lines: 3\n§\nPrivate-MAC: 0a1b\n", genPuTTYLines},
			{"home/dev/id_rsa.ppk", "PuTTY-User-Key-File-2: ssh-rsa\r\nEncryption: none\r\nComment: rsa-key\r\nPublic-Lines: 1\r\nAAAAB3NzaC1yc2E\r\nPrivate-Lines: 3\r\n§\r\nPrivate-MAC: 0a1b\r\n", func() string { return strings.ReplaceAll(genPuTTYLines(), "\n", "\r\n") }},
			{"backup.txt", "PuTTY-User-Key-File-3: ecdsa-sha2-nistp256\nEncryption: aes256-cbc\nComment: x\nPublic-Lines: 1\nAAAA\nKey-Derivation: Argon2id\nPrivate-Lines: 3\n§\nPrivate-MAC: 0a1b", genPuTTYLines},
		},
		fps: []fp{
			{"README.txt", "Save it as a PuTTY-User-Key-File-2 (.ppk) with puttygen."},
			{"keys/deploy.ppk", "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 1\nAAAA\n"},
			{"parse.go", `if strings.HasPrefix(line, "Private-Lines: ") {`},
		}},
	{id: "nhi-kubernetes-bootstrap-token",
		tps: []tp{
			{"join.sh", "kubeadm join 10.0.0.10:6443 --token § --discovery-token-ca-cert-hash sha256:" + strings.Repeat("ab", 32), genBootstrap},
			{"kubeadm-config.yaml", "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nbootstrapTokens:\n- groups:\n  - system:bootstrappers:kubeadm:default-node-token\n  token: §\n  ttl: 24h0m0s\n", genBootstrap},
			{"etc/kubernetes/bootstrap-kubelet.conf", "users:\n- name: tls-bootstrap-token-user\n  user:\n    token: §\n", genBootstrap},
			{"cloud-init.yml", "runcmd:\n  - kubeadm join --discovery-token=§ 10.0.0.10:6443", genBootstrap},
		},
		fps: []fp{
			{"kubeadm-config.yaml", "bootstrapTokens:\n- token: abcdef.0123456789abcdef"},
			{"join.sh", "kubeadm join 10.0.0.10:6443 --token $TOKEN"},
			{"main.go", `version := "v1.2.3456789abcdef"`},
			{"deploy.yaml", "token: " + strings.Repeat("aB3d", 12)},
			{"README.txt", "kubeadm join --token <token>"},
		}},
}

func loadNHI(t *testing.T) *gldetect.Detector {
	t.Helper()
	rs, err := Load(Options{})
	if err != nil {
		t.Fatalf("load rules: %v", err)
	}
	return rs.newGitleaks()
}

func findingsOf(fs []report.Finding, rule string) []report.Finding {
	var out []report.Finding
	for _, f := range fs {
		if f.RuleID == rule {
			out = append(out, f)
		}
	}
	return out
}

func describe(fs []report.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s line %d: %q", f.RuleID, f.StartLine, f.Secret)
	}
	return b.String()
}

func TestNHIRuleExamples(t *testing.T) {
	d := loadNHI(t)
	for _, rc := range nhiRuleExamples {
		t.Run(rc.id, func(t *testing.T) {
			if len(rc.tps) < 3 || len(rc.fps) < 3 {
				t.Fatalf("%s: %d true and %d false positive examples; need at least 3 of each", rc.id, len(rc.tps), len(rc.fps))
			}
			for i, ex := range rc.tps {
				for run := 0; run < 3; run++ { // fresh values each run
					secret := ex.gen()
					text := strings.ReplaceAll(ex.text, "§", secret)
					if strings.Count(ex.text, "§") != 1 {
						t.Fatalf("tp %d: template must hold § once", i)
					}
					fs := d.DetectContext(context.Background(), gldetect.Fragment{Raw: text, FilePath: ex.path})
					got := findingsOf(fs, rc.id)
					if len(got) != 1 || got[0].Secret != secret {
						t.Fatalf("tp %d (%s): want one %s finding with the generated secret %q, got:%s\ntext:\n%s", i, ex.path, rc.id, secret, describe(fs), text)
					}
				}
			}
			for i, ex := range rc.fps {
				fs := d.DetectContext(context.Background(), gldetect.Fragment{Raw: ex.text, FilePath: ex.path})
				if got := findingsOf(fs, rc.id); len(got) != 0 {
					t.Errorf("fp %d (%s): %s fired:%s\ntext:\n%s", i, ex.path, rc.id, describe(got), ex.text)
				}
			}
		})
	}
}
