package detect

import (
	"encoding/base64"
	"strings"

	"github.com/nhi-inventory/nhi/harness"
)

// Generated values for the rules of issue 18 (weak passwords, command
// lines, tool stores, vendor formats).

// genWeak is a dictionary or default password, as people leave them.
func genWeak() string {
	s := oneWord("root", "admin", "postgres", "guest", "letmein", "qwerty", "toor", "oracle", "welcome", "master")
	if harness.RandomString("01", 1) == "1" {
		s += harness.RandomString("0123456789", 2)
	}
	return s
}

// oneWord is one of words, drawn at random.
func oneWord(words ...string) string {
	return words[strings.IndexByte("0123456789", harness.RandomString("0123456789"[:len(words)], 1)[0])]
}

func genDoppler() string {
	return "dp.st." + harness.RandomString("abcdefghijklmnopqrstuvwxyz", 3) + "." + harness.RandomString(alnumChars, 40)
}
func genDopplerCLI() string { return "dp.ct." + harness.RandomString(alnumChars, 40) }
func genTeamsFlow() string {
	return "https://prod-" + harness.RandomString("0123456789", 2) + ".westeurope.logic.azure.com:443/workflows/" + harness.Hex(32) +
		"/triggers/manual/paths/invoke?api-version=2016-06-01&sv=1.0&sig=" + harness.RandomString(alnumChars+"_-", 43)
}
func genDockerHub() string { return "dckr_pat_" + harness.RandomString(alnumChars+"_-", 27) }
func genDTrack() string    { return "odt_" + harness.RandomString(alnumChars, 32) }
func genTB() string        { return harness.RandomString(alnumChars, 20) }
func genTavily() string    { return "tvly-" + harness.RandomString(alnumChars, 32) }
func genTelegram() string {
	return harness.RandomString("123456789", 1) + harness.RandomString("0123456789", 9) + ":AA" + harness.RandomString(alnumChars+"_-", 33)
}
func genSalesforce() string {
	return "00D" + harness.RandomString(alnumChars, 12) + "!" + harness.RandomString(alnumChars+".", 96)
}
func genNuGet() string  { return "oy2" + harness.RandomString(lowerAlnum, 43) }
func genCrates() string { return "cio" + harness.RandomString(alnumChars, 32) }
func genASREP() string {
	return "$krb5asrep$23$svc_sql@CORP.LOCAL:" + harness.Hex(32) + "$" + harness.Hex(160)
}
func genTGS() string {
	return "$krb5tgs$23$*svc_web$CORP.LOCAL$http/web01*$" + harness.Hex(32) + "$" + harness.Hex(240)
}
func genCisco9() string {
	return "$9$" + harness.RandomString(cryptChars, 14) + "$" + harness.RandomString(cryptChars, 43)
}
func genCisco8() string {
	return "$8$" + harness.RandomString(cryptChars, 14) + "$" + harness.RandomString(cryptChars, 43)
}
func genFirefoxEnc() string {
	return "MDoEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECA" + harness.RandomString(base64Chars, 14) + "BBA" + harness.RandomString(base64Chars, 21) + "=="
}
func genJetBrains() string { return harness.Hex(24) }
func genBasic() string {
	return base64.StdEncoding.EncodeToString([]byte("svc-api:" + genPassword()))
}
func genBearer() string { return harness.RandomString(alnumChars, 32) }

var issue18Examples = []ruleExamples{
	{id: "nhi-weak-password",
		tps: []tp{
			{"docker-compose.yml", "services:\n  db:\n    environment:\n      MYSQL_ROOT_PASSWORD: §\n", genWeak},
			{"deploy/compose.prod.yml", "    environment:\n      - POSTGRES_PASSWORD=§\n", genWeak},
			{".env", "DB_USER=app\nDB_PASSWORD=§\n", genWeak},
			{"wp-config.php", "define( 'DB_PASSWORD', '§' );\n", genWeak},
			{"app/config/database.php", "    'password' => '§',\n", genWeak},
			{"home/dev/.config/rclone/config", "[nas]\ntype = ftp\npass = §\n", genWeak},
			{"home/dev/.esmtprc", "username = \"alerts\"\npassword = \"§\"\n", genWeak},
			{"scripts/env.sh", "export PGPASSWORD=§\n", genWeak},
			{"ci/setup.sh", "echo \"DB_PASSWORD=§\" >> .env\n", genWeak},
			{"Dockerfile", "ENV POSTGRES_PASSWORD=§\n", genWeak},
			{".dbeaver/data-sources.xml", `<connection host="db" port="5432" user="postgres" password="§" type="dev"/>`, genWeak},
			{"robomongo.json", `"userPassword" : "§",`, genWeak},
			{".gitlab-ci.yml", "variables:\n  DB_PASSWORD: §\n", genWeak},
		},
		fps: []fp{
			{"docker-compose.yml", "      MYSQL_ROOT_PASSWORD: ${MYSQL_ROOT_PASSWORD}\n      MYSQL_PASSWORD_FILE: /run/secrets/db\n"},
			{".env.example", "DB_PASSWORD=changeme\n"},
			{".env", "DB_PASSWORD=\nREDIS_PASSWORD=<your-redis-password>\n"},
			{"config/app.ini", "password = ${DB_PASSWORD}\npassword_file = /etc/app/db.pw\n"},
			{"wp-config.php", "define( 'DB_PASSWORD', getenv('WORDPRESS_DB_PASSWORD') );\n"},
			{"helm/values.yaml", "auth:\n  passwordKey: password\n  password: \"\"\n  bypass: root\n"},
			{"docker-compose.yml", "      - REDIS_PASSWORD=${REDIS_PASSWORD:?set it}\n      - DB_PASSWORD=${DB_PASSWORD:-}\n"},
			{"src/app.js", "const opts = { password: 'root' };\n"},
			{"docs/setup.yml", "password: root\n"},
			{"conf/cassandra.yaml", "    # truststore_password: cassandra\n"},
			{"infra/replace.sh", "        echo \"GOVC_PASSWORD: password on vSphere target\"\n"},
			{"plugins/db/test-fixtures/cassandra.yaml", "    keystore_password: cassandra\n"},
			{".github/workflows/ci.yml", "env:\n  DB_PASSWORD: ${{ secrets.DB_PASSWORD }}\n  PASS: $(cat pw)\n"},
		}},
	{id: "nhi-pgpass-weak-password",
		tps: []tp{
			{".pgpass", "db.internal:5432:app:app:§\n", genWeak},
			{"home/dev/.pgpass", "localhost:*:*:postgres:§\n", func() string { return "postgres" }},
			{"AppData/postgresql/pgpass.conf", "db:5432:*:report:§\r\n", genWeak},
		},
		fps: []fp{
			{".pgpass", "localhost:5432:*:postgres:changeme\n"},
			{".pgpass", "# hostname:port:database:username:password\n"},
			{"notes.txt", "localhost:5432:*:postgres:root\n"},
		}},
	{id: "nhi-url-weak-credentials",
		tps: []tp{
			{"scripts/mirror.sh", "git push https://admin:§@git.corp.lan/platform/api.git\n", genWeak},
			{"settings.py", "BROKER_URL = 'amqp://guest:§@rabbit.prod.lan:5672//'\n", genWeak},
			{"app.yaml", "upstream: http://svc:§@10.0.4.12:8080/api\n", genURLPassword},
			{"db.sh", "psql postgresql://postgres:§@db/app\n", genWeak},
		},
		fps: []fp{
			{"CHANGELOG", "* mirror moved to ftp://user:password@ftp.example.com/pub\n"},
			{"src/url.go", "// parse \"https://user:pass@host/path\"\n"},
			{"clone.sh", "git clone https://${GIT_USER}:${GIT_TOKEN}@github.com/org/repo.git\n"},
			{"README.txt", "use https://admin:admin@example.com\n"},
			{"setup.py", "url = 'http://localhost:8080@x'\n"},
		}},
	{id: "nhi-cli-password",
		tps: []tp{
			{"backup.sh", "mysqldump -u backup -p§ --all-databases > all.sql\n", genPassword},
			{"restore.sh", "mysql -h db -u root --password=§ app < dump.sql\n", genWeak},
			{"sync.sh", "sshpass -p '§' rsync -a dist/ deploy@web01:/srv/\n", genPassword},
			{"vmware.ps1", "Connect-VIServer -Server vc -User administrator -Password '§'\n", genPassword},
			{"remote.bat", "PsExec.exe \\\\srv01 -u CORP\\svc -p § cmd /c deploy.cmd\n", genURLPassword},
			{"map.bat", "net use Z: \\\\files01\\share /user:CORP\\svc_backup §\n", genURLPassword},
			{"Mailer.cs", "Credentials = new NetworkCredential(\"alerts\", \"§\");\n", genPassword},
			{"ftp.py", "ftp.login('backup', '§')\n", genURLPassword},
			{"ps.ps1", "$pw = ConvertTo-SecureString '§' -AsPlainText -Force\n", genURLPassword},
			{"tools/ftp.sh", "lftp -u deploy,§ sftp://files.corp.lan\n", genURLPassword},
			{"Db.java", "DriverManager.getConnection(\"jdbc:mysql://db:3306/app\", \"app\", \"§\");\n", genURLPassword},
		},
		fps: []fp{
			{"backup.sh", "mysqldump -u backup -p\"$DB_PASSWORD\" app > app.sql\n"},
			{"db.sh", "mysql -u root -p app -P 3306\n"},
			{"vmware.ps1", "Connect-VIServer -Server $vc -User $user -Password $env:VC_PASSWORD\n"},
			{"ftp.py", "ftp.login(user, password)\n"},
			{"sync.sh", "sshpass -p \"$PASS\" ssh host\n"},
			{"docs/mysql.md", "mysql -u root -pQx81LmzP0s9\n"},
			{"Db.java", "DriverManager.getConnection(url, user, password);\n"},
			{"tools/ftp.sh", "lftp -u \"$USER,$PASS\" sftp://files\n"},
		}},
	{id: "nhi-authorization-header",
		tps: []tp{
			{"client.py", "headers = {\"Authorization\": \"Basic §\"}\n", genBasic},
			{"client.js", "fetch(url, { headers: { Authorization: 'Bearer §' } });\n", genBearer},
			{"http.go", "req.Header.Set(\"Authorization\", \"Bearer §\")\n", genBearer},
		},
		fps: []fp{
			{"client.py", "headers = {\"Authorization\": f\"Bearer {token}\"}\n"},
			{"call.sh", "curl -H \"Authorization: Bearer Qx81LmzP0s9aB7cD3eF5gH\" https://api\n"},
			{"client.js", "headers: { Authorization: `Bearer ${token}` }\n"},
			{"jwt.py", "h = {'Authorization': 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijk'}\n"},
		}},
	{id: "nhi-netrc-inline",
		tps: []tp{
			{"setup.sh", "printf 'machine api.corp.lan login svc password §\\n' > ~/.netrc\n", genURLPassword},
			{"Dockerfile", "RUN echo \"machine git.corp.lan login ci password §\" > /root/.netrc\n", genURLPassword},
			{"notes.txt", "machine ftp.corp.lan login backup password §\n", genPassword},
		},
		fps: []fp{
			{"setup.sh", "echo \"machine api login bot password $TOKEN\" > ~/.netrc\n"},
			{".netrc", "machine ftp.corp.lan login backup password Qx81LmzP0s9\n"},
			{"main.go", "// machine state: login then password\n"},
		}},
	{id: "nhi-git-credentials-at-user",
		tps: []tp{
			{"home/ops/.git-credentials", "https://ops@corp.com:§@git.corp.lan\n", genURLPassword},
			{".git-credentials", "https://jane@corp.example:§@dev.azure.com/\n", genURLPassword},
			{"home/a/.git-credentials", "http://a@b.c:§@10.0.0.5:3000\n", genURLPassword},
		},
		fps: []fp{
			{".git-credentials", "https://ops@corp.com:ghp_" + strings.Repeat("a1B2", 9) + "@github.com\n"},
			{"notes.txt", "https://ops@corp.com:Qx81LmzP0s9@git.corp.lan\n"},
			{".git-credentials", "https://ops:Qx81LmzP0s9@git.corp.lan\n"},
		}},
	{id: "nhi-firefox-encrypted-username",
		tps: []tp{
			{"profile/logins.json", `{"logins":[{"encryptedUsername":"§","encryptedPassword":"x"}]}`, genFirefoxEnc},
			{"x.default/logins-backup.json", `"encryptedUsername": "§",`, genFirefoxEnc},
			{"Profiles/ab.default-release/logins.json", `{"encryptedUsername":"§"}`, genFirefoxEnc},
		},
		fps: []fp{
			{"data.json", `{"encryptedUsername":"MDoEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZ"}`},
			{"logins.json", `{"encryptedUsername":""}`},
			{"logins.json", `{"username":"MDoEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZ"}`},
		}},
	{id: "nhi-jetbrains-webserver-password",
		tps: []tp{
			{".idea/webServers.xml", `<fileTransfer host="ftp" port="21" accessType="FTP" login="deploy" password="§" />`, genJetBrains},
			{"config/options/webServers.xml", `<fileTransfer rootFolder="/srv" accessType="SFTP" host="web" port="22" password="§">`, genJetBrains},
			{"proj/.idea/webServers.xml", "<fileTransfer host=\"a\"\n  password=\"§\" />", genJetBrains},
		},
		fps: []fp{
			{".idea/webServers.xml", `<fileTransfer host="ftp" port="21" accessType="FTP" />`},
			{"other.xml", `<fileTransfer host="ftp" password="dfdedbd8c9" />`},
			{".idea/webServers.xml", `<webServer id="1" name="prod" password="dfdedbd8c9" />`},
		}},
	{id: "nhi-doppler-token",
		tps: []tp{
			{"env.sh", "export DOPPLER_TOKEN=§\n", genDoppler},
			{"ci.txt", "token: §\n", genDopplerCLI},
			{"app.py", "doppler = Doppler(\"§\")\n", genDoppler},
		},
		fps: []fp{
			{"env.sh", "export DOPPLER_TOKEN=dp.st.dev.$TOKEN\n"},
			{"a.go", "x := \"dp.st.dev.short\"\n"},
			{"a.txt", "dp.ct." + strings.Repeat("a", 40) + "\n"},
		}},
	{id: "nhi-teams-workflow-webhook",
		tps: []tp{
			{"notify.py", "URL = \"§\"\n", genTeamsFlow},
			{"flow.json", "{\"url\": \"§\"}\n", genTeamsFlow},
			{".env", "TEAMS_WEBHOOK=§\n", genTeamsFlow},
		},
		fps: []fp{
			{"notify.py", "URL = \"https://prod-00.westeurope.logic.azure.com/workflows/\"\n"},
			{"a.txt", "https://portal.azure.com/#logic.azure.com\n"},
			{"b.txt", "https://prod-1.x.logic.azure.com:443/workflows/" + strings.Repeat("0", 32) + "/triggers/manual/paths/invoke?sig=<signature>\n"},
		}},
	{id: "nhi-dockerhub-token",
		tps: []tp{
			{"push.sh", "echo § | docker login -u builder --password-stdin\n", genDockerHub},
			{".env", "DOCKERHUB_TOKEN=§\n", genDockerHub},
			{"a.json", "{\"token\":\"§\"}\n", func() string { return "dckr_oat_" + harness.RandomString(alnumChars, 32) }},
		},
		fps: []fp{
			{"push.sh", "echo $DOCKERHUB_TOKEN | docker login --password-stdin\n"},
			{"a.txt", "dckr_pat_\n"},
			{"b.txt", "dckr_pat_" + strings.Repeat("a", 27) + "\n"},
		}},
	{id: "nhi-dependency-track-api-key",
		tps: []tp{
			{"dtrack.py", "api_key=\"§\"\n", genDTrack},
			{"upload.sh", "curl -X POST -H \"X-Api-Key: §\" https://dtrack/api/v1/bom\n", genDTrack},
			{".env", "DT_API_KEY=§\n", genDTrack},
		},
		fps: []fp{
			{"a.go", "odt_format := 1\n"},
			{"b.txt", "odt_" + strings.Repeat("a", 32) + "\n"},
			{"c.txt", "key=odt_$KEY\n"},
		}},
	{id: "nhi-thingsboard-access-token",
		tps: []tp{
			{"telemetry.sh", "curl -d '{\"t\":21}' http://tb:8080/api/v1/§/telemetry\n", genTB},
			{"device.py", "requests.post(f\"{host}/api/v1/§/attributes\", json=a)\n", genTB},
			{"rpc.js", "fetch('https://tb.cloud/api/v1/§/rpc')\n", genTB},
		},
		fps: []fp{
			{"telemetry.sh", "curl http://tb:8080/api/v1/$TOKEN/telemetry\n"},
			{"a.txt", "/api/v1/aaaaaaaaaaaaaaaaaaaa/telemetry\n"},
			{"b.txt", "/api/v1/users/telemetry\n"},
		}},
	{id: "nhi-tavily-api-key",
		tps: []tp{
			{"search.py", "client = TavilyClient(\"§\")\n", genTavily},
			{".env", "TAVILY_API_KEY=§\n", func() string { return "tvly-dev-" + harness.RandomString(alnumChars, 32) }},
			{"a.ts", "const k = '§';\n", genTavily},
		},
		fps: []fp{
			{"search.py", "client = TavilyClient(os.environ['TAVILY_API_KEY'])\n"},
			{"a.txt", "tvly-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"},
			{"b.txt", "tvly-short\n"},
		}},
	{id: "nhi-telegram-bot-token",
		tps: []tp{
			{"bot.py", "bot = Bot(\"§\")\n", genTelegram},
			{"notify.sh", "curl -s https://api.telegram.org/bot§/sendMessage -d text=done\n", genTelegram},
			{"config.json", "{\"token\": \"§\"}\n", genTelegram},
		},
		fps: []fp{
			{"bot.py", "bot = Bot(os.environ[\"TELEGRAM_TOKEN\"])\n"},
			{"version.go", "const build = \"1234567890:AAB\"\n"},
			{"a.txt", "1234567890:AA" + strings.Repeat("a", 33) + "\n"},
		}},
	{id: "nhi-salesforce-access-token",
		tps: []tp{
			{"sf.sh", "sfdx force:data:soql:query -q 'select id' --targetusername §\n", genSalesforce},
			{"a.py", "sf = Salesforce(instance='x', session_id='§')\n", genSalesforce},
			{".env", "SF_ACCESS_TOKEN=§\n", genSalesforce},
		},
		fps: []fp{
			{"sf.sh", "sfdx force:org:display --targetusername me@corp.com\n"},
			{"a.txt", "00D000000000001!short\n"},
			{"b.txt", "00Dxx0000001gPL\n"},
		}},
	{id: "nhi-nuget-api-key",
		tps: []tp{
			{"publish.sh", "dotnet nuget push pkg.nupkg --api-key § --source nuget.org\n", genNuGet},
			{"build.cake", "NuGetPush(pkg, new NuGetPushSettings { ApiKey = \"§\" });\n", genNuGet},
			{".env", "NUGET_API_KEY=§\n", genNuGet},
		},
		fps: []fp{
			{"publish.sh", "dotnet nuget push pkg.nupkg --api-key $NUGET_API_KEY\n"},
			{"a.txt", "oy2" + strings.Repeat("a", 43) + "\n"},
			{"b.txt", "toy2abc\n"},
		}},
	{id: "nhi-crates-io-token",
		tps: []tp{
			{"home/dev/.cargo/credentials.toml", "[registry]\ntoken = \"§\"\n", genCrates},
			{"publish.sh", "cargo publish --token §\n", genCrates},
			{".env", "CARGO_REGISTRY_TOKEN=§\n", genCrates},
		},
		fps: []fp{
			{"publish.sh", "cargo publish --token $CARGO_TOKEN\n"},
			{"a.txt", "cio" + strings.Repeat("a", 32) + "\n"},
			{"b.txt", "precious" + strings.Repeat("x", 30) + "\n"},
		}},
	{id: "nhi-kerberos-hash",
		tps: []tp{
			{"loot/asrep.txt", "§\n", genASREP},
			{"loot/kerberoast.txt", "§\n", genTGS},
			{"notes.txt", "user svc_sql: §\n", genASREP},
		},
		fps: []fp{
			{"a.txt", "$krb5asrep$23$user@DOMAIN:<hash>\n"},
			{"b.txt", "hashcat -m 18200 $krb5asrep$ hashes.txt\n"},
			{"c.txt", "$krb5tgs$23$*user$realm$spn*$abc$def\n"},
		}},
	{id: "nhi-redis-password",
		tps: []tp{
			{"config/redis.conf", "bind 127.0.0.1\nrequirepass §\n", genWeak},
			{"redis-6379.conf", "masterauth \"§\"\n", genPassword},
			{"etc/redis/redis.conf", "  requirepass §\r\n", genURLPassword},
		},
		fps: []fp{
			{"config/redis.conf", "# requirepass foobared\n"},
			{"config/redis.conf", "requirepass foobared\n"},
			{"notes.txt", "requirepass Qx81LmzP0s9\n"},
			{"redis.conf", "requirepass ${REDIS_PASSWORD}\n"},
		}},
	{id: "nhi-ci-secret-assignment",
		tps: []tp{
			{".github/workflows/deploy.yml", "    env:\n      API_TOKEN: §\n", genKubeToken},
			{".gitlab-ci.yml", "deploy:\n  variables:\n    LIST: [a, b\n    SONAR_TOKEN: \"§\"\n", func() string { return harness.Hex(40) }},
			{"bitbucket-pipelines.yml", "        script:\n          - export DEPLOY_KEY=§\n", genKubeToken},
		},
		fps: []fp{
			{".github/workflows/deploy.yml", "    env:\n      API_TOKEN: ${{ secrets.API_TOKEN }}\n"},
			{".github/workflows/deploy.yml", "      token: GITHUB_TOKEN_FOR_RELEASES\n"},
			{"deploy.yml", "API_TOKEN: Qx81LmzP0s9aB7cD3eF5gH\n"},
			{".gitlab-ci.yml", "  SECRET_DETECTION_EXCLUDED_PATHS: tests\n"},
		}},
	{id: "nhi-cisco-secret-hash",
		tps: []tp{
			{"core-sw01.cfg", "enable secret 9 §\n", genCisco9},
			{"edge-r1.cfg", "username netadmin privilege 15 secret 8 §\n", genCisco8},
			{"running-config", "username admin secret 9 §\n", genCisco9},
		},
		fps: []fp{
			{"a.cfg", "enable secret 5 $1$abcd$efghijklmnopqrstuvwxyz\n"},
			{"b.txt", "$9$short$abc\n"},
			{"c.txt", "price: $8$ per unit\n"},
		}},
}

func init() { nhiRuleExamples = append(nhiRuleExamples, issue18Examples...) }

// addIssue18Files adds to the developer tree a file for each rule of
// issue 18, next to placeholders none may report.
func addIssue18Files(w *tree) {
	w.file("webapp/docker-compose.override.yml",
		"services:",
		"  db:",
		"    environment:",
		"      MYSQL_ROOT_PASSWORD: "+w.secret("nhi-weak-password", oneWord("root", "admin", "postgres", "guest", "letmein")),
		"      MYSQL_PASSWORD: "+w.ph("${MYSQL_PASSWORD}"),
	)
	w.file("home/dev/.pgpass.d/.pgpass",
		// A value nhi-pgpass-password drops as a placeholder.
		"localhost:5432:*:postgres:"+w.secret("nhi-pgpass-weak-password", "secret"),
	)
	w.file("webapp/scripts/mirror.sh",
		"git push https://admin:"+w.secret("nhi-url-weak-credentials", oneWord("admin", "root", "guest", "toor"))+"@git.corp.lan/platform/api.git",
		"mysqldump -u backup -p"+w.secret("nhi-cli-password", genPassword())+" --all-databases > all.sql",
		"mysqldump -u backup -p\""+w.ph("$DB_PASSWORD")+"\" app > app.sql",
		"printf 'machine api.corp.lan login svc password "+w.secret("nhi-netrc-inline", genURLPassword())+"\\n' > ~/.netrc",
		"echo "+w.secret("nhi-dockerhub-token", genDockerHub())+" | docker login -u builder --password-stdin",
		"curl -d '{}' http://tb:8080/api/v1/"+w.secret("nhi-thingsboard-access-token", genTB())+"/telemetry",
		"curl -s https://api.telegram.org/bot"+w.secret("nhi-telegram-bot-token", genTelegram())+"/sendMessage",
		"dotnet nuget push pkg.nupkg --api-key "+w.secret("nhi-nuget-api-key", genNuGet()),
		"sfdx force:data:soql:query -q 'select id' --targetusername "+w.secret("nhi-salesforce-access-token", genSalesforce()),
	)
	w.file("home/ops/.git-credentials",
		"https://ops@corp.com:"+w.secret("nhi-git-credentials-at-user", genURLPassword())+"@git.corp.lan",
	)
	w.file("webapp/client.py",
		"headers = {\"Authorization\": \"Basic "+w.secret("nhi-authorization-header", genBasic())+"\"}",
		"search = TavilyClient(\""+w.secret("nhi-tavily-api-key", genTavily())+"\")",
		"dtrack = DependencyTrack(url, key=\""+w.secret("nhi-dependency-track-api-key", genDTrack())+"\")",
		"WEBHOOK = \""+w.secret("nhi-teams-workflow-webhook", genTeamsFlow())+"\"",
	)
	w.file("webapp/deploy/doppler.txt", "token: "+w.secret("nhi-doppler-token", genDoppler()))
	w.file("home/dev/.cargo/credentials.toml", "[registry]", "token = \""+w.secret("nhi-crates-io-token", genCrates())+"\"")
	w.file("home/dev/.mozilla/firefox/ab.default/logins.json",
		`{"logins":[{"hostname":"https://intranet","encryptedUsername":"`+w.secret("nhi-firefox-encrypted-username", genFirefoxEnc())+`"}]}`)
	w.file("webapp/.idea/webServers.xml",
		`<fileTransfer host="ftp.corp.lan" port="21" accessType="FTP" login="deploy" password="`+w.secret("nhi-jetbrains-webserver-password", genJetBrains())+`" />`)
	w.file("webapp/deploy/redis.conf", "bind 0.0.0.0", "requirepass "+w.secret("nhi-redis-password", genPassword()), "# requirepass "+w.ph("foobared"))
	w.file("webapp/.github/workflows/broken.yml",
		"on: push",
		"jobs:",
		"  a:",
		"    env:",
		"      TARGETS: [staging, prod",
		"      API_TOKEN: "+w.secret("nhi-ci-secret-assignment", genKubeToken()),
		"      NPM_TOKEN: "+w.ph("${{ secrets.NPM_TOKEN }}"),
	)
	w.file("home/dev/loot/asrep.txt", w.secret("nhi-kerberos-hash", genASREP()))
	w.file("home/dev/network/core-sw01.cfg", "hostname core-sw01", "enable secret 9 "+w.secret("nhi-cisco-secret-hash", genCisco9()))
}
