"""Generates tests/data/safety/leaks.jsonl: credentials of every named kind in realistic contexts, near-misses
that must not be flagged, and stored secrets in each supported encoding. Tokens are random and format-valid;
none is a real credential."""
import json, random, string, base64, urllib.parse
random.seed(20241125)
A = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
BAD = ["example","placeholder","your","xxxx","redacted","dummy","changeme","replace","insert","here","sample","fake","test","notreal"]
def ok(s):
    low = s.lower()
    if any(b in low for b in BAD): return False
    run = 1
    for a,b in zip(s, s[1:]):
        run = run+1 if a==b else 1
        if run >= 4: return False
    for i in range(len(low)-6):
        w = low[i:i+7]
        if all(ord(w[j+1])==ord(w[j])+1 for j in range(6)): return False
    return True
def rnd(n, alphabet=A, need=(string.ascii_lowercase, string.ascii_uppercase, string.digits)):
    while True:
        s = ''.join(random.choice(alphabet) for _ in range(n))
        if ok(s) and all(any(c in s for c in cls) for cls in need if any(c in alphabet for c in cls)): return s
def digits(n): return str(random.randint(10**(n-1), 10**n-1))
def b64body(n): return rnd(n, string.ascii_letters+string.digits+"+/")

gens = {
 "openai_api_key": lambda: "sk-proj-" + rnd(74, A+"_-") + "T3BlbkFJ" + rnd(74, A+"_-"),
 "openrouter_api_key": lambda: "sk-or-v1-" + rnd(64, HEX, need=(string.digits,)),
 "anthropic_api_key": lambda: "sk-ant-api03-" + rnd(93, A+"_-") + "AA",
 "aws_access_key_id": lambda: "AKIA" + rnd(16, string.ascii_uppercase+string.digits),
 "aws_secret_access_key": lambda: rnd(40, A+"/+"),
 "github_token": lambda: "ghp_" + rnd(36),
 "github_token_fine_grained": lambda: "github_pat_11" + rnd(20, string.ascii_uppercase+string.digits) + "_" + rnd(59),
 "gitlab_token": lambda: "glpat-" + rnd(20, A+"_-"),
 "gitlab_token_runner": lambda: "GR1348941" + rnd(20, A+"_-"),
 "slack_bot_token": lambda: "xoxb-" + digits(12) + "-" + digits(13) + "-" + rnd(24),
 "slack_user_token": lambda: "xoxp-" + digits(12) + "-" + digits(12) + "-" + digits(13) + "-" + rnd(32, HEX, need=(string.digits,)),
 "slack_app_token": lambda: "xapp-1-A" + rnd(10, string.ascii_uppercase+string.digits) + "-" + digits(13) + "-" + rnd(64, HEX, need=(string.digits,)),
 "slack_webhook_url": lambda: "https://hooks.slack.com/services/T" + rnd(8, string.ascii_uppercase+string.digits) + "/B" + rnd(8, string.ascii_uppercase+string.digits) + "/" + rnd(24),
 "telegram_bot_token": lambda: digits(10) + ":AA" + rnd(33, A+"_-"),
 "stripe_secret_key": lambda: "sk_live_" + rnd(99),
 "stripe_webhook_secret": lambda: "whsec_" + rnd(32),
 "google_api_key": lambda: "AIza" + rnd(35, A+"_-"),
 "google_oauth_client_secret": lambda: "GOCSPX-" + rnd(28, A+"_-"),
 "twilio_api_key": lambda: "SK" + rnd(32, HEX, need=(string.digits,)),
 "twilio_auth_token": lambda: rnd(32, HEX, need=(string.digits,)),
 "sendgrid_api_key": lambda: "SG." + rnd(22, A+"_-") + "." + rnd(43, A+"_-"),
 "npm_token": lambda: "npm_" + rnd(36),
 "pypi_token": lambda: "pypi-AgEIcHlwaS5vcmc" + rnd(70, A+"_-"),
 "huggingface_token": lambda: "hf_" + rnd(34, string.ascii_letters),
 "groq_api_key": lambda: "gsk_" + rnd(52),
 "xai_api_key": lambda: "xai-" + rnd(80),
 "digitalocean_token": lambda: "dop_v1_" + rnd(64, HEX, need=(string.digits,)),
 "shopify_token": lambda: "shpat_" + rnd(32, HEX, need=(string.digits,)),
 "age_secret_key": lambda: "AGE-SECRET-KEY-1" + rnd(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", need=(string.digits,)),
 "discord_webhook_url": lambda: "https://discord.com/api/webhooks/" + digits(18) + "/" + rnd(68, A+"_-"),
 "jwt": lambda: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJ" + rnd(60, A+"_-") + "." + rnd(43, A+"_-"),
 "private_key": lambda: "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(b64body(64) for _ in range(8)) + "\n-----END RSA PRIVATE KEY-----",
 "openssh_private_key": lambda: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA" + b64body(40) + "\n" + "\n".join(b64body(70) for _ in range(5)) + "\n-----END OPENSSH PRIVATE KEY-----",
 "pgp_private_key": lambda: "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\nlQOYBF" + b64body(58) + "\n" + "\n".join(b64body(64) for _ in range(5)) + "\n=" + rnd(4) + "\n-----END PGP PRIVATE KEY BLOCK-----",
 "database_url_with_password": lambda: rnd(14),
 "url_basic_auth": lambda: rnd(16),
 "bearer_token": lambda: rnd(40, A+"._-"),
}
contexts = {
 "aws_secret_access_key": ["aws_secret_access_key = {s}", 'export AWS_SECRET_ACCESS_KEY="{s}"', '{{"SecretAccessKey": "{s}", "Region": "eu-west-1"}}'],
 "twilio_auth_token": ["TWILIO_AUTH_TOKEN={s}", 'twilio_auth_token: "{s}"', "const TWILIO_API_SECRET = '{s}';"],
 "database_url_with_password": ["DATABASE_URL=postgres://app_user:{s}@db.internal:5432/app", "mongodb+srv://admin:{s}@cluster0.ab1cd.mongodb.net/prod?retryWrites=true", 'redis_url: "redis://default:{s}@cache.internal:6379/0"'],
 "url_basic_auth": ["git clone https://deploy:{s}@git.example.org/team/repo.git", "curl https://ci-bot:{s}@artifacts.internal/download/build.tar.gz", "proxy = http://svc:{s}@proxy.corp.local:3128"],
 "bearer_token": ["Authorization: Bearer {s}", 'curl -H "Authorization: Bearer {s}" https://api.internal/v1/items', 'headers = {{"Authorization": "Bearer {s}"}}'],
}
generic = ["Here is the key I used: {s}", 'config.json: {{"token": "{s}", "retries": 3}}', "export SECRET={s}\n./run.sh", "Log line 2024-05-01T10:00:00Z auth ok token={s} user=42", "```\n{s}\n```\nplease rotate this"]
rows = []
for kind, gen in gens.items():
    ctxs = contexts.get(kind, generic)
    for i in range(len(ctxs)):
        s = gen()
        reported = {"github_token_fine_grained": "github_token", "gitlab_token_runner": "gitlab_token"}.get(kind, kind)
        rows.append({"id": f"leak-{kind}-{i}", "text": ctxs[i].format(s=s), "expected": [{"kind": reported, "secret": s}]})

near = [
 "Request id 550e8400-e29b-41d4-a716-446655440000 completed in 12ms",
 "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
 "commit e83c5163316f89bfbde7d9ab23ca2e25604af290 (HEAD -> main)",
 "md5 d41d8cd98f00b204e9800998ecf8427e  empty.txt",
 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx8rj5Yv2WdF0nqK3H7pQe9Lm4Tz1sBcVu6oXyR2aJd alice@laptop",
 "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n-----END PUBLIC KEY-----",
 "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----",
 "AWS docs use AKIAIOSFODNN7EXAMPLE as the access key id.",
 "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
 "Set OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx in your shell.",
 "export OPENAI_API_KEY=sk-your-api-key-here",
 "Install scikit-learn: pip install scikit-learn; the sk-learn-compatible-estimators-guide-for-beginners explains more.",
 "Authorization: Bearer <token>",
 "Authorization: Bearer ${ACCESS_TOKEN}",
 "Authorization: Bearer YOUR_ACCESS_TOKEN_GOES_HERE_12345",
 "DATABASE_URL=postgres://user:password@localhost:5432/mydb",
 "DATABASE_URL=postgres://postgres:${POSTGRES_PASSWORD}@db:5432/app",
 "mysql://root:<password>@127.0.0.1:3306/shop",
 "Visit https://docs.rs/regex/latest/regex/ for the API.",
 "Use git@github.com:owner/repo.git to clone over ssh.",
 "Stripe publishable key pk_live_51HxYz2Kc8Lq7Wm3Np9Rt4Vb6Xd1Fg5Hj0 is safe to embed in the page.",
 "Example JWT from jwt.io: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
 "The GitHub token format is ghp_ followed by 36 characters, e.g. ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX.",
 "Slack tokens look like xoxb-<team>-<bot>-<secret>.",
 "Telegram bot ids like 123456789 are public; tokens are 123456789:<secret>.",
 "Order ASK7c9e0b1f2a3d4c5b6a7980a1b2c3d4e5 shipped.",
 "The TASKFORCE1234567890ABCD meeting is on Monday.",
 "Base64 image data: iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
 "Google Analytics id UA-12345678-1 and tag G-ABCDEF1234.",
 "Docker image sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4",
 "npm_config_cache=/home/ci/.npm and npm_package_version=1.2.3",
 "hf_hub_download(repo_id='bert-base-uncased', filename='config.json')",
 "The password field must be at least 12 characters.",
 "ftp://ftp.debian.org/debian/ is a mirror.",
 "PGP fingerprint: 4AEE 18F8 3AFD EB23 9A77 4C3C 8AE7 5E03 4BAE 2FB0",
 "-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQINBF0wNuIBEACw2E7Wq3P1kCkLQ3G9v3Gz2hZ\n-----END PGP PUBLIC KEY BLOCK-----",
 "Token placeholder: glpat-xxxxxxxxxxxxxxxxxxxx",
 "https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX",
 "Twilio account SID AC and the docs example SKXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
 "Bearer tokens are sent as: Authorization: Bearer abc.def.ghi",
 "The quick brown fox jumps over the lazy dog. AKIA is a prefix used by AWS.",
 "uuid4: 3f2b8c1e-9d4a-4e7b-8c6f-1a2b3c4d5e6f, session 7d9e1f3a5b7c9e1f3a5b7c9e1f3a5b7c",
 "Version: ghp_ rotation guide v2",
 "mongodb://localhost:27017/test",
 "redis://:@localhost:6379",
 "git clone https://github.com/rust-lang/regex.git",
 "sk_test_ keys are documented at stripe.com/docs/keys as sk_test_...",
 "AIza is the prefix of Google API keys, for example AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI is shown in docs",
 "https://user@example.com/path has a user but no password",
]
# the Google docs key above looks real; it is the published Maps sample and is excluded from the near-miss list
near = [n for n in near if "AIzaSyDdI0" not in n]
for i, t in enumerate(near):
    rows.append({"id": f"near-{i:03d}", "text": t, "expected": []})

stored_values = ["hunter2-Correct-Horse!", "s3cr3t/with+plus=and spaces", "pässwörd-ünïcode-✓", "AbCdEfGhIjKlMnOp1234", "x9!Qz#8@Lm&7$Kp", 'quote"back\\slash/solidus']
def pct(v): return urllib.parse.quote(v, safe="-._~")
encodings = {
 "raw": lambda v: v,
 "base64": lambda v: base64.b64encode(v.encode()).decode(),
 "base64url": lambda v: base64.urlsafe_b64encode(v.encode()).decode().rstrip("="),
 "hex": lambda v: v.encode().hex(),
 "hex_upper": lambda v: v.encode().hex().upper(),
 "url": pct,
 "form": lambda v: urllib.parse.quote_plus(v, safe="-._~"),
 "json": lambda v: json.dumps(v, ensure_ascii=False)[1:-1],
 "json_ascii": lambda v: json.dumps(v)[1:-1],
}
for vi, v in enumerate(stored_values):
    for name, enc in encodings.items():
        e = enc(v)
        rows.append({"id": f"stored-{vi}-{name}", "text": f"POST /upload HTTP/1.1\nHost: collector.example\n\npayload={e}&n=1",
                     "stored": [{"name": f"secret_{vi}", "value": v}], "expected": [{"kind": "stored_secret", "secret": e}]})
    # embedded inside a longer base64 stream (Basic auth of user:secret)
    basic = base64.b64encode(("deploy:" + v).encode()).decode()
    rows.append({"id": f"stored-{vi}-basic", "text": f"Authorization: Basic {basic}", "stored": [{"name": f"secret_{vi}", "value": v}],
                 "expected": [{"kind": "stored_secret", "secret": basic}], "partial": True})
with open("leaks.jsonl", "w") as f:
    for r in rows: f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(rows))
