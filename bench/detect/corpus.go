package main

// The labelled corpus of the detection benchmark (issue 18): files people
// really write, each either holding one hard-coded credential (§, drawn
// by gen when the corpus is written) or none. The structure is committed
// here; the values are generated at run time.

// Categories of the corpus, in the order they are printed.
const (
	catWeak    = "weak-passwords"
	catCLI     = "command-lines"
	catURL     = "url-credentials"
	catTool    = "tool-encodings"
	catVendor  = "vendor-tokens"
	catCI      = "ci-workflows"
	catNoise   = "noise"
	catDocs    = "docs-examples"
	catOKToday = "found-today"
	// catHeldOut are cases written after the rules, and not tuned on:
	// a check that the figures above do not only measure the rules
	// fitted to them.
	catHeldOut = "held-out"
)

var categories = []string{catWeak, catCLI, catURL, catTool, catVendor, catCI, catNoise, catDocs, catOKToday, catHeldOut}

// doc is one file of the corpus. A positive doc holds § once, replaced by
// gen(); the credential is on that line. A negative doc (gen nil) holds
// no credential: every finding in it is a false positive.
type doc struct {
	cat  string
	path string
	text string
	gen  func() string
}

var corpus = []doc{
	// --- weak or dictionary passwords in credential-shaped slots ---------
	{catWeak, ".pgpass", "db.internal:5432:app:app_user:§\n", weakLetters},
	{catWeak, "home/dev/.pgpass", "# local\nlocalhost:*:*:postgres:§\n", weak},
	{catWeak, ".dbeaver/data-sources.xml", `<?xml version="1.0" encoding="UTF-8"?>
<data-sources>
	<data-source id="postgres-jdbc-1" provider="postgresql" driver="postgres-jdbc" name="prod" save-password="true">
		<connection host="db.prod.lan" port="5432" server="" database="app" url="jdbc:postgresql://db.prod.lan:5432/app" user="postgres" password="§" type="prod"/>
	</data-source>
</data-sources>
`, weakLetters},
	{catWeak, "robomongo/robomongo.json", `{
    "connections": [
        {
            "connectionName": "prod",
            "serverHost": "mongo.prod.lan",
            "credentials": [
                {
                    "databaseName": "admin",
                    "userName": "admin",
                    "userPassword": "§"
                }
            ]
        }
    ]
}
`, weak},
	{catWeak, ".env", "APP_ENV=production\nDB_HOST=db\nDB_USERNAME=app\nDB_PASSWORD=§\n", weakLetters},
	{catWeak, "api/.env.production", "REDIS_HOST=cache\nREDIS_PASSWORD=§\n", weak},
	{catWeak, "wp-config.php", "<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', 'wp' );\ndefine( 'DB_PASSWORD', '§' );\ndefine( 'DB_HOST', 'localhost' );\n", weakLetters},
	{catWeak, "app/config/database.php", "<?php\nreturn [\n    'mysql' => [\n        'host' => '127.0.0.1',\n        'username' => 'root',\n        'password' => '§',\n    ],\n];\n", weak},
	{catWeak, "home/dev/.config/rclone/config", "[office]\ntype = ftp\nhost = ftp.corp.lan\nuser = backup\npass = §\n", weakLetters},
	{catWeak, "home/dev/.esmtprc", "hostname = smtp.corp.lan:587\nusername = \"alerts\"\npassword = \"§\"\nstarttls = required\n", weak},
	{catWeak, "docker-compose.yml", "services:\n  db:\n    image: mysql:8\n    environment:\n      MYSQL_ROOT_PASSWORD: §\n      MYSQL_DATABASE: app\n", weakLetters},
	{catWeak, "deploy/docker-compose.prod.yml", "services:\n  pg:\n    image: postgres:16\n    environment:\n      - POSTGRES_USER=app\n      - POSTGRES_PASSWORD=§\n", weak},
	{catWeak, "scripts/env.sh", "#!/bin/sh\nexport PGHOST=db.prod.lan\nexport PGPASSWORD=§\npsql -c 'select 1'\n", weakLetters},
	{catWeak, "home/dev/.bashrc", "alias ll='ls -l'\nexport SMTP_PASS=§\n", weak},
	{catWeak, "config/app.ini", "[database]\nuser = app\npassword = §\n", weakLetters},
	{catWeak, "Dockerfile", "FROM postgres:16\nENV POSTGRES_PASSWORD=§\n", weakLetters},
	{catWeak, "docker-compose.yml", "services:\n  db:\n    image: mysql:8\n    environment:\n      MYSQL_ROOT_PASSWORD: ${MYSQL_ROOT_PASSWORD}\n      MYSQL_PASSWORD_FILE: /run/secrets/db\n", nil},
	{catWeak, ".env.example", "DB_PASSWORD=\nREDIS_PASSWORD=<your-redis-password>\n", nil},
	{catWeak, "config/app.ini", "[database]\npassword = ${DB_PASSWORD}\npassword_file = /etc/app/db.pw\n", nil},
	{catWeak, "wp-config.php", "<?php\ndefine( 'DB_PASSWORD', getenv('WORDPRESS_DB_PASSWORD') );\n", nil},
	{catWeak, "helm/values.yaml", "auth:\n  existingSecret: app-db\n  passwordKey: password\n  password: \"\"\n", nil},

	{catWeak, "ansible/group_vars/all.yml", "db_password: \"{{ vault_db_password }}\"\nadmin_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n", nil},
	{catWeak, "src/main/resources/application.yml", "spring:\n  datasource:\n    password: ${DB_PASSWORD:}\n    hikari:\n      pool-name: main\n", nil},
	{catWeak, "k8s/deploy.yaml", "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db\n        key: password\n", nil},
	{catWeak, "config/ldap.yml", "bind_dn: cn=admin\nbind_password: §\n", weak},
	{catWeak, "home/dev/.my.cnf", "[client]\nuser=root\npassword=§\n", weakLetters},
	{catWeak, "config/redis.conf", "bind 127.0.0.1\nrequirepass §\n", weak},
	{catWeak, "settings.toml", "[smtp]\npassword = \"§\"\n", weak},
	{catWeak, "config/mail.yml", "smtp:\n  pass: true\n  password_min_length: 12\n  password_reset: enabled\n", nil},

	// --- credentials on command lines and in shell strings ---------------
	{catCLI, "scripts/backup.sh", "#!/bin/bash\nmysqldump -u backup -p§ --all-databases > /backup/all.sql\n", strong},
	{catCLI, "scripts/restore.sh", "mysql -h db.prod.lan -u root --password=§ app < dump.sql\n", weak},
	{catCLI, "scripts/report.sh", "psql \"postgresql://report:§@db.prod.lan:5432/reports\" -f q.sql\n", strong},
	{catCLI, "run.sh", "docker run -d -e POSTGRES_PASSWORD=§ -p 5432:5432 postgres:16\n", strong},
	{catCLI, "deploy.sh", "curl -fsS -u deploy:§ https://nexus.corp.lan/repository/raw/app.tgz -o app.tgz\n", strong},
	{catCLI, "login.sh", "curl -X POST https://api.corp.lan/login -H 'Content-Type: application/json' --data '{\"username\":\"svc\",\"password\":\"§\"}'\n", strong},
	{catCLI, "setup.sh", "echo \"API_KEY=§\" >> .env\n", func() string { return pick(alnum, 32) }},
	{catCLI, "ci/sign.sh", "echo \"signing.password=§\" >> gradle.properties\n", strong},
	{catCLI, "ci/release.sh", "sed -i 's/^storePassword=.*/storePassword=§/' android/gradle.properties\n", strong},
	{catCLI, "ci/login.sh", "curl -s -X POST https://api.corp.lan/token -d 'grant_type=password&username=svc&password=§'\n", strong},
	{catCLI, "sync.sh", "sshpass -p '§' rsync -a ./dist/ deploy@web01:/srv/www/\n", strong},
	{catCLI, "vmware.ps1", "Connect-VIServer -Server vcenter.corp.lan -User administrator@vsphere.local -Password '§'\n", strong},
	{catCLI, "remote.bat", "PsExec.exe \\\\srv01 -u CORP\\svc_deploy -p § cmd /c deploy.cmd\n", strong},
	{catCLI, "map.bat", "net use Z: \\\\files01\\share /user:CORP\\svc_backup §\n", strong},
	{catCLI, "Mailer.cs", "var client = new SmtpClient(\"smtp.corp.lan\") { Credentials = new NetworkCredential(\"alerts\", \"§\") };\n", strong},
	{catCLI, "client.py", "headers = {\"Authorization\": \"Basic §\"}\n", basicAuth},
	{catCLI, "client.js", "const res = await fetch(url, { headers: { Authorization: 'Bearer §' } });\n", bearer},
	{catCLI, "ftp.py", "ftp = FTP('ftp.corp.lan')\nftp.login('backup', '§')\n", strong},
	{catCLI, "ps.ps1", "$pw = ConvertTo-SecureString '§' -AsPlainText -Force\n", strong},
	{catCLI, "scripts/db.sh", "mysql -u root -p app -P 3306 < schema.sql\n", nil},
	{catCLI, "ftp.py", "ftp.login(user, password)\n", nil},
	{catCLI, "run.ps1", "Start-Process app.exe -Credential $cred -PassThru\n", nil},
	{catCLI, "scripts/psql.sh", "PGPASSWORD=§ psql -h db.prod.lan -U app -c 'select 1'\n", strong},
	{catCLI, "docker.sh", "docker run --rm -e MYSQL_ROOT_PASSWORD=§ mysql:8\n", weakLetters},
	{catCLI, "scripts/backup.sh", "mysqldump -u backup -p\"$DB_PASSWORD\" app > app.sql\n", nil},
	{catCLI, "run.sh", "docker run -e POSTGRES_PASSWORD=\"$(cat /run/secrets/pg)\" postgres:16\n", nil},
	{catCLI, "deploy.sh", "curl -u \"$NEXUS_USER:$NEXUS_PASS\" https://nexus.corp.lan/x\n", nil},
	{catCLI, "client.py", "headers = {\"Authorization\": f\"Bearer {token}\"}\n", nil},
	{catCLI, "vmware.ps1", "Connect-VIServer -Server $vc -User $user -Password $env:VC_PASSWORD\n", nil},

	// --- URLs with credentials -----------------------------------------
	{catURL, "scripts/mirror.sh", "git push https://admin:§@git.corp.lan/platform/api.git\n", weakURL},
	{catURL, "home/dev/.git-credentials", "https://jane.doe%40corp.com:§@dev.azure.com\n", strong},
	{catURL, "home/ops/.git-credentials", "https://ops@corp.com:§@git.corp.lan\n", strong},
	{catURL, "setup.sh", "printf 'machine api.corp.lan login svc password §\\n' > ~/.netrc\n", strong},
	{catURL, "config/settings.py", "BROKER_URL = 'amqp://guest:§@rabbit.prod.lan:5672//'\n", weakURL},
	{catURL, "app.yaml", "upstream: http://svc:§@10.0.4.12:8080/api\n", strong},
	{catURL, "CHANGELOG", "* 1.2: mirror moved to ftp://user:password@ftp.example.com/pub\n", nil},
	{catURL, "src/url.go", "// parse \"https://user:pass@host/path\"\n", nil},
	{catURL, "clone.sh", "git clone https://${GIT_USER}:${GIT_TOKEN}@github.com/org/repo.git\n", nil},

	// --- tool-specific encodings ----------------------------------------
	{catTool, "home/dev/.mozilla/firefox/abcd1234.default/logins.json", `{"nextId":2,"logins":[{"id":1,"hostname":"https://intranet.corp.lan","encryptedUsername":"§","encryptedPassword":"` + "MDIEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECJ" + `","formSubmitURL":""}]}` + "\n", firefoxEnc},
	{catTool, ".idea/webServers.xml", `<?xml version="1.0" encoding="UTF-8"?>
<project version="4">
  <component name="WebServers">
    <option name="servers">
      <webServer id="1" name="prod" url="http://www.corp.lan">
        <fileTransfer host="ftp.corp.lan" port="21" accessType="FTP" login="deploy" password="§" />
      </webServer>
    </option>
  </component>
</project>
`, jetbrainsEnc},
	{catTool, "AppData/FileZilla/sitemanager.xml", "<FileZilla3>\n<Servers>\n<Server>\n<Host>ftp.corp.lan</Host>\n<User>deploy</User>\n<Pass encoding=\"base64\">§</Pass>\n</Server>\n</Servers>\n</FileZilla3>\n", fileZillaB64},
	{catTool, "WinSCP.ini", "[Sessions\\deploy@web01]\nHostName=web01\nUserName=deploy\nPassword=§\n", winSCP},
	{catTool, ".env", "HEROKU_API_KEY=§\n", herokuNew},
	{catTool, "home/dev/.netrc", "machine api.heroku.com\n  login dev@corp.com\n  password §\n", herokuNew},

	// --- vendor token formats --------------------------------------------
	{catVendor, "deploy/env.sh", "export DOPPLER_TOKEN=§\n", dopplerST},
	{catVendor, "ci/doppler.txt", "token: §\n", dopplerCT},
	{catVendor, "notify.py", "WEBHOOK = \"§\"\n", teamsWebhook},
	{catVendor, "alerts/flow.json", "{\"url\": \"§\"}\n", teamsWorkflow},
	{catVendor, "push.sh", "echo § | docker login -u builder --password-stdin\n", dockerPAT},
	{catVendor, "dtrack.py", "client = DependencyTrack(url, api_key=\"§\")\n", depTrack},
	{catVendor, "telemetry.sh", "curl -X POST -d '{\"t\":21}' http://tb.corp.lan:8080/api/v1/§/telemetry\n", tbToken},
	{catVendor, "search.py", "client = TavilyClient(\"§\")\n", tavily},
	{catVendor, "bot.py", "bot = Bot(\"§\")\n", telegram},
	{catVendor, "notify.sh", "curl -s https://api.telegram.org/bot§/sendMessage -d chat_id=42 -d text=done\n", telegram},
	{catVendor, "sf.sh", "sfdx force:data:soql:query -q 'select id from Account' --targetusername §\n", salesforce},
	{catVendor, "publish.sh", "dotnet nuget push pkg.nupkg --source https://api.nuget.org/v3/index.json --api-key §\n", nuget},
	{catVendor, "home/dev/.cargo/credentials.toml", "[registry]\ntoken = \"§\"\n", crates},
	{catVendor, "slack/app.py", "app = App(token=os.environ[\"SLACK_BOT_TOKEN\"])\nhandler = SocketModeHandler(app, \"§\")\n", slackApp},
	{catVendor, "slack/settings.py", "SLACK_SIGNING_SECRET = \"§\"\n", slackSecret},
	{catVendor, "k8s/bootstrap-secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: bootstrap-token-07401b\n  namespace: kube-system\ntype: bootstrap.kubernetes.io/token\nstringData:\n  token-id: 07401b\n  token-secret: §\n  usage-bootstrap-authentication: \"true\"\n", k8sTokenSecret},
	{catVendor, "join.sh", "curl -k -H \"Authorization: Bearer §\" https://10.0.0.10:6443/api/v1/namespaces\n", k8sBootstrap},
	{catVendor, "truenas.py", "TRUENAS_API_KEY = \"§\"\n", trueNAS},
	{catVendor, "loot/asrep.txt", "§\n", asrep},
	{catVendor, "loot/kerberoast.txt", "§\n", tgs},
	{catVendor, "network/core-sw01.cfg", "hostname core-sw01\nenable secret 9 §\n", cisco9},
	{catVendor, "network/edge-r1.cfg", "username netadmin privilege 15 secret 8 §\n", cisco8},
	{catVendor, "bot.py", "bot = Bot(os.environ[\"TELEGRAM_TOKEN\"])\n", nil},
	{catVendor, "publish.sh", "dotnet nuget push pkg.nupkg --api-key $NUGET_API_KEY\n", nil},
	{catVendor, "version.go", "const build = \"1234567890:AAB\"\n", nil},

	// --- CI workflows -----------------------------------------------------
	{catCI, ".github/workflows/test.yml", "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    services:\n      postgres:\n        image: postgres:16\n        env:\n          POSTGRES_PASSWORD: §\n    steps:\n      - run: make test\n", weakLetters},
	{catCI, ".github/workflows/deploy.yml", "on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      API_TOKEN: §\n    steps:\n      - run: ./deploy.sh\n", func() string { return pick(alnum, 40) }},
	{catCI, ".github/workflows/release.yml", "on: push\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          echo start\n          docker login -u bot -p § registry.corp.lan\n", strong},
	{catCI, ".github/workflows/db.yml", "on: push\njobs:\n  db:\n    runs-on: ubuntu-latest\n    steps:\n      - run: mysql -h 127.0.0.1 -u root -p§ -e 'create database t'\n", strong},
	{catCI, ".gitlab-ci.yml", "variables:\n  DB_PASSWORD: §\ntest:\n  script:\n    - make test\n", weak},
	{catCI, ".github/workflows/masked.yml", "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    env:\n      TOKEN: ***\n      DEPLOY_PASSWORD: §\n    steps:\n      - run: echo *** | tee out\n        shell: *bash\n", strong},
	// YAML that does not parse even leniently (an unclosed flow sequence):
	// the CI source fails the file, the detector still reads it.
	{catCI, ".github/workflows/broken.yml", "on: push\njobs:\n  a:\n    env:\n      TARGETS: [staging, prod\n      DEPLOY_PASSWORD: §\n    steps:\n      - run: ./deploy.sh\n", strong},
	{catCI, ".gitlab-ci.yml", "deploy:\n  variables:\n    LIST: [a, b\n    API_TOKEN: §\n  script:\n    - ./deploy.sh\n", func() string { return pick(alnum, 40) }},
	{catCI, ".github/workflows/gcloud.yml", "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          gcloud secrets versions access latest --secret=prod-db-password > pw\n          TOKEN=$(cat pw)\n          curl --token ${{ secrets.API_TOKEN }} https://api\n", nil},
	{catCI, ".github/workflows/ref.yml", "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    env:\n      DB_PASSWORD: ${{ secrets.DB_PASSWORD }}\n      API_KEY: $(vault kv get -field=key secret/app)\n    steps:\n      - run: ./run.sh --api-key \"$API_KEY\"\n", nil},
	// The value also appears earlier in the block: the line reported must
	// be the line of the assignment.
	{catCI, ".github/workflows/same.yml", "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          echo building Release2024x\n          export RELEASE_TOKEN=§\n", func() string { return "Release2024x" }},

	{catCI, ".github/workflows/svc.yml", "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    services:\n      mysql:\n        image: mysql:8\n        env:\n          MYSQL_ROOT_PASSWORD: §\n        options: --health-cmd=\"mysqladmin ping\"\n", weakLetters},
	{catCI, ".gitlab-ci.yml", "test:\n  services:\n    - postgres:16\n  variables:\n    POSTGRES_PASSWORD: §\n  script: make test\n", weak},
	{catCI, ".github/workflows/matrix.yml", "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: docker/login-action@v3\n        with:\n          username: ${{ vars.DOCKER_USER }}\n          password: ${{ secrets.DOCKER_PASSWORD }}\n      - run: echo \"API_KEY=${{ secrets.API_KEY }}\" >> $GITHUB_ENV\n", nil},

	// Pipelines that do not parse as YAML even leniently: their unit fails
	// and their hard-coded secrets are read line by line (masking read as
	// an alias with a broken line, tabs with an unterminated quote, a
	// broken indent, an unclosed flow collection).
	{catCI, ".github/workflows/masked-broken.yml", "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    env:\n      TOKEN: ***\n      TARGETS: [a, b\n    steps:\n      - run: |\n          echo *** | tee out\n          docker login -u bot -p § registry.corp.lan\n", strong},
	{catCI, ".gitlab-ci.yml", "variables:\n\tMYSQL_ROOT_PASSWORD: §\n\tBANNER: 'deploying\ntest:\n\tscript:\n\t\t- make test\n", weakLetters},
	{catCI, ".github/workflows/indent.yml", "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    services:\n      pg:\n        image: postgres:16\n        env:\n          POSTGRES_PASSWORD: §\n    steps:\n      - run: make test\n     timeout-minutes: 5\n", weak},
	{catCI, ".github/workflows/with.yml", "on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/deploy-action@v2\n        with:\n          user: deploy\n          password: §\n      - run: echo done\n     if: always()\n", strong},
	{catCI, "azure-pipelines.yml", "variables:\n  - name: dbPassword\n    value: §\nsteps:\n  - script: ./deploy.sh\n    displayName: [deploy\n", strong},
	{catCI, ".gitlab-ci.yml", "scan:\n  script:\n    - export SONAR_TOKEN=§\n    - sonar-scanner\n  only: [main\n", func() string { return pick(hexLow, 40) }},
	{catCI, ".github/workflows/mirror.yml", "on: push\njobs:\n  m:\n    runs-on: ubuntu-latest\n    steps:\n      - run: git push https://admin:§@git.corp.lan/platform/api.git\n      - run: echo ok\n     env: {A: b}\n", weakURL},
	{catCI, "bitbucket-pipelines.yml", "pipelines:\n  default:\n    - step:\n        script:\n          - mysql -h db -u root --password=§ -e 'select 1'\n        services: [mysql\n", weak},
	{catCI, ".github/workflows/refs-broken.yml", "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    env:\n      DB_PASSWORD: ${{ secrets.DB_PASSWORD }}\n      API_TOKEN: ***\n      TARGETS: [a, b\n    steps:\n      - run: ./tool --password \"$DB_PASSWORD\" --token=${{ secrets.T }}\n", nil},
	{catCI, ".gitlab-ci.yml", "deploy:\n\tscript:\n\t\t- gcloud secrets versions access latest --secret=prod-db-password > pw\n\t\t- ./deploy.sh --password \"$(cat pw)\"\n\tvariables:\n\t\tPASSWORD_FILE: /run/secrets/pw\n\t\tBANNER: 'deploying\n", nil},

	// --- noise --------------------------------------------------------
	{catNoise, "configure", "if test \"$x,$pass\" = \"yes,no\"; then\n  pass=ok\nfi\n", nil},
	{catNoise, "src/form.js", "const password = passwordInput.value;\nconst opts = { password: passwordField, secret: secretRef };\n", nil},
	{catNoise, "cli.py", "parser.add_argument('--api-key', default='YOUR_API_KEY', help='the key')\n", nil},
	{catNoise, "Makefile", "deploy:\n\t./tool --password=$(PASSWORD) --token=$$TOKEN\n", nil},
	{catNoise, "lib/auth.php", "$password = $_POST['password'];\nif ($pass === '') { return; }\n", nil},
	{catNoise, "config/settings.yaml", "password_policy:\n  min_length: 12\n  require_digit: true\n", nil},
	{catNoise, "setup.cfg", "[tool:pytest]\naddopts = --password-file=.pw\n", nil},
	{catNoise, "install.sh", "read -s -p 'Password: ' PASS\nexport PASS\n", nil},
	{catNoise, "docker-compose.yml", "services:\n  app:\n    environment:\n      - DB_PASSWORD\n      - REDIS_PASSWORD=${REDIS_PASSWORD:?set it}\n", nil},
	{catNoise, "README", "Run: ./tool --api-key <key> --password '<password>'\n", nil},

	// --- documentation examples: found, but as documentation -------------
	{catDocs, "docs/vault.md", "```\nexport VAULT_TOKEN=§\nvault kv get secret/app\n```\n", func() string { return "hvs." + pick(alnum, 24) }},
	{catDocs, "website/content/auth.mdx", "```shell\n$ vault login §\n```\n", func() string { return "hvs." + pick(alnum, 90) }},

	// --- held out: written once the rules were done, never tuned on -------
	{catHeldOut, "docker-compose.yaml", "version: '3'\nservices:\n  rabbit:\n    image: rabbitmq:3\n    environment:\n      RABBITMQ_DEFAULT_PASS: §\n", weakLetters},
	{catHeldOut, "config/database.yml", "production:\n  adapter: postgresql\n  username: rails\n  password: §\n", weak},
	{catHeldOut, "src/main/resources/application.properties", "spring.datasource.username=app\nspring.datasource.password=§\n", weakLetters},
	{catHeldOut, "scripts/load.sh", "mysql --user=root --password='§' shop < shop.sql\n", strong},
	{catHeldOut, "deploy.ps1", "$cred = New-Object System.Management.Automation.PSCredential('svc', (ConvertTo-SecureString \"§\" -AsPlainText -Force))\n", strong},
	{catHeldOut, "tools/ftp.sh", "lftp -u deploy,§ sftp://files.corp.lan\n", strong},
	{catHeldOut, "Jenkinsfile", "pipeline {\n  agent any\n  environment {\n    DB_PASSWORD = '§'\n  }\n  stages { stage('t') { steps { sh 'make' } } }\n}\n", strong},
	{catHeldOut, "bitbucket-pipelines.yml", "pipelines:\n  default:\n    - step:\n        script:\n          - export SONAR_TOKEN=§\n          - sonar-scanner\n", func() string { return pick(hexLow, 40) }},
	{catHeldOut, "app/src/main/java/Db.java", "DriverManager.getConnection(\"jdbc:mysql://db:3306/app\", \"app\", \"§\");\n", strong},
	{catHeldOut, "notify.go", "const hook = \"https://hooks.slack.com/services/T0\" + \"§\"\n", func() string { return pick(upper+digits, 8) }},
	{catHeldOut, ".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", nil},
	{catHeldOut, "config/app.yaml", "jwt:\n  secret: ${JWT_SECRET}\n  expiry: 3600\n", nil},
	{catHeldOut, "entrypoint.sh", "if [ -z \"$DB_PASSWORD\" ]; then echo 'DB_PASSWORD is required'; exit 1; fi\n", nil},
	{catHeldOut, ".github/workflows/ci.yml", "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"${{ secrets.NPM_TOKEN }}\" | npm login --registry https://npm.pkg.github.com\n      - run: vault kv get -field=password secret/ci/db > pw\n", nil},

	// --- what nhi finds today, so the benchmark shows nothing is lost ------
	{catOKToday, ".env", "DATABASE_URL=postgres://app:§@db.prod.lan:5432/app\n", strong},
	{catOKToday, "config/aws.py", "aws_secret_access_key = \"§\"\n", awsSecret},
	{catOKToday, ".github/workflows/gh.yml", "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    env:\n      GH_TOKEN: §\n    steps:\n      - run: gh release list\n", ghPAT},
	{catOKToday, "config/settings.yaml", "db:\n  password: §\n", strong},
	{catOKToday, "deploy/keys.sh", "export AWS_ACCESS_KEY_ID=§\n", awsKeyID},
}
