//! The table of named credential formats the leak detector knows, written from each vendor's public format notes.
//!
//! Every pattern is anchored at a literal that the Aho-Corasick prefilter finds first, so the regexes only run
//! where a credential can start. Quantifiers are bounded, which keeps the work per prefilter hit constant even on
//! hostile input such as a megabyte of repeated prefixes; the one exception, a PEM body, stops at the first `-`,
//! so it cannot run past the next `-----BEGIN`.

/// Where a match begins relative to the literal the prefilter found.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start {
    /// The literal is the first thing in the credential (`ghp_`, `AKIA`, `-----BEGIN `).
    AtLiteral,
    /// The credential starts up to `max` bytes before the literal, over bytes of one class (a URL scheme before
    /// `://`, the numeric bot id before a Telegram token's `:AA`).
    BackOver { class: ByteClass, max: usize },
}

/// Byte classes a [`Start::BackOver`] may walk over.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ByteClass {
    Digits,
    SchemeChars,
}

impl ByteClass {
    pub(crate) fn contains(self, byte: u8) -> bool {
        match self {
            ByteClass::Digits => byte.is_ascii_digit(),
            ByteClass::SchemeChars => byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'.' | b'-'),
        }
    }
}

/// Extra checks on the secret part of a match, which is where placeholders and prose get rejected.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Check {
    /// Only the placeholder check (`EXAMPLE`, `xxxx`, `<token>`, runs of one character).
    Placeholder,
    /// The secret must mix at least this many of lower case, upper case and digits (random tokens do; slugs and
    /// words don't).
    Mixed(u8),
    /// A password inside a URL: reject documented stand-ins such as `password` or `${DB_PASSWORD}`.
    Password,
    /// Free-form tokens after `Bearer`: mixed classes and Shannon entropy of at least this many bits per byte.
    Entropy(f32),
}

/// How strongly a kind claims a span when two patterns overlap: specific formats beat generic ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Specificity {
    Generic = 0,
    Family = 1,
    Exact = 2,
    Stored = 3,
}

/// One credential format.
#[derive(Debug)]
pub(crate) struct PatternSpec {
    /// Stable snake_case name reported to callers and used in config; one name per provider token family
    /// (classic and fine-grained GitHub tokens are both `github_token`).
    pub kind: &'static str,
    /// Literals the prefilter looks for; each hit runs `regex` from the computed start.
    pub literals: &'static [&'static str],
    pub start: Start,
    /// Regex run anchored at the start; a group named `secret` narrows the span that is checked and reported.
    pub regex: &'static str,
    pub check: Check,
    pub specificity: Specificity,
    /// The byte before the match must not be a word byte, so `task-…` does not look like an `sk-` key.
    pub boundary_before: bool,
    /// The byte after the match must not continue a token (`[A-Za-z0-9_-]`); rejects fragments of longer blobs.
    pub boundary_after: bool,
}

const fn token(
    kind: &'static str,
    literals: &'static [&'static str],
    regex: &'static str,
    check: Check,
) -> PatternSpec {
    PatternSpec {
        kind,
        literals,
        start: Start::AtLiteral,
        regex,
        check,
        specificity: Specificity::Exact,
        boundary_before: true,
        boundary_after: true,
    }
}

/// The built-in credential formats. Order does not matter; overlaps are settled by [`Specificity`].
pub(crate) const PATTERNS: &[PatternSpec] = &[
    token(
        "anthropic_api_key",
        &["sk-ant-"],
        r"sk-ant-(?:api|admin|sid|oat|ort)[0-9]{2}-[A-Za-z0-9_-]{32,200}",
        Check::Mixed(2),
    ),
    token("openrouter_api_key", &["sk-or-v1-"], r"sk-or-v1-[a-f0-9]{64}", Check::Placeholder),
    PatternSpec {
        specificity: Specificity::Family,
        ..token("openai_api_key", &["sk-"], r"sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{40,220}", Check::Mixed(3))
    },
    token(
        "aws_access_key_id",
        &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
        r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}",
        Check::Mixed(2),
    ),
    PatternSpec {
        boundary_after: false,
        ..token(
            "aws_secret_access_key",
            &[
                "aws_secret",
                "AWS_SECRET",
                "SecretAccessKey",
                "secretAccessKey",
                "secret_access_key",
                "SECRET_ACCESS_KEY",
                "aws-secret",
            ],
            r#"[A-Za-z_-]{0,24}["']?\s{0,4}(?:=>|:=|[:=])\s{0,4}["']?(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
            Check::Entropy(3.5),
        )
    },
    token("github_token", &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], r"gh[pousr]_[A-Za-z0-9]{36,251}", Check::Mixed(2)),
    token("github_token", &["github_pat_"], r"github_pat_[A-Za-z0-9_]{80,250}", Check::Mixed(3)),
    token(
        "gitlab_token",
        &[
            "glpat-", "gloas-", "gldt-", "glrt-", "glcbt-", "glptt-", "glft-", "glimt-", "glagent-", "glsoat-",
            "glffct-",
        ],
        r"gl(?:pat|oas|dt|rt|cbt|ptt|ft|imt|agent|soat|ffct)-[A-Za-z0-9_-]{20,200}",
        Check::Mixed(2),
    ),
    token("gitlab_token", &["GR1348941"], r"GR1348941[A-Za-z0-9_-]{20,60}", Check::Mixed(2)),
    token("slack_bot_token", &["xoxb-"], r"xoxb-[0-9]{8,15}-[0-9]{8,15}-[A-Za-z0-9]{20,40}", Check::Mixed(2)),
    token(
        "slack_user_token",
        &["xoxp-", "xoxe-", "xoxa-", "xoxr-", "xoxs-"],
        r"xox[pears]-(?:[0-9]{8,15}-){2,3}[A-Za-z0-9]{24,64}",
        Check::Mixed(2),
    ),
    token("slack_app_token", &["xapp-"], r"xapp-[0-9]-[A-Z0-9]{8,15}-[0-9]{8,15}-[A-Za-z0-9]{32,80}", Check::Mixed(2)),
    token(
        "slack_webhook_url",
        &["https://hooks.slack.com/", "http://hooks.slack.com/", "hooks.slack.com/"],
        r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{6,12}/[A-Z0-9]{6,12}/[A-Za-z0-9]{20,40}",
        Check::Mixed(2),
    ),
    PatternSpec {
        start: Start::BackOver { class: ByteClass::Digits, max: 10 },
        ..token("telegram_bot_token", &[":AA"], r"[0-9]{8,10}:AA[A-Za-z0-9_-]{33}", Check::Placeholder)
    },
    token(
        "stripe_secret_key",
        &["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
        r"[sr]k_(?:live|test)_[A-Za-z0-9]{20,250}",
        Check::Mixed(2),
    ),
    token("stripe_webhook_secret", &["whsec_"], r"whsec_[A-Za-z0-9+/=]{32,100}", Check::Mixed(2)),
    token("google_api_key", &["AIza"], r"AIza[0-9A-Za-z_-]{35}", Check::Mixed(2)),
    token("google_oauth_client_secret", &["GOCSPX-"], r"GOCSPX-[A-Za-z0-9_-]{28}", Check::Mixed(2)),
    token("twilio_api_key", &["SK"], r"SK[0-9a-f]{32}", Check::Mixed(2)),
    PatternSpec {
        boundary_after: false,
        ..token(
            "twilio_auth_token",
            &["TWILIO_", "twilio_", "Twilio", "twilio"],
            r#"[A-Za-z_]{0,24}(?i:token|secret)["']?\s{0,4}(?:=>|:=|[:=])\s{0,4}["']?(?P<secret>[a-f0-9]{32})(?:[^A-Za-z0-9_]|$)"#,
            Check::Mixed(2),
        )
    },
    token("sendgrid_api_key", &["SG."], r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", Check::Mixed(2)),
    token("npm_token", &["npm_"], r"npm_[A-Za-z0-9]{36}", Check::Mixed(3)),
    token("pypi_token", &["pypi-AgE"], r"pypi-AgE[A-Za-z0-9_-]{50,300}", Check::Mixed(2)),
    token("huggingface_token", &["hf_"], r"hf_[A-Za-z0-9]{34,40}", Check::Mixed(2)),
    token("groq_api_key", &["gsk_"], r"gsk_[A-Za-z0-9]{48,60}", Check::Mixed(3)),
    token("xai_api_key", &["xai-"], r"xai-[A-Za-z0-9]{70,90}", Check::Mixed(3)),
    token("digitalocean_token", &["dop_v1_", "doo_v1_", "dor_v1_"], r"do[por]_v1_[a-f0-9]{64}", Check::Mixed(2)),
    token(
        "shopify_token",
        &["shpat_", "shpca_", "shppa_", "shpss_"],
        r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
        Check::Mixed(2),
    ),
    token(
        "age_secret_key",
        &["AGE-SECRET-KEY-1"],
        r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        Check::Placeholder,
    ),
    token(
        "discord_webhook_url",
        &[
            "https://discord.com/api/webhooks/",
            "https://discordapp.com/api/webhooks/",
            "https://canary.discord.com/api/webhooks/",
            "https://ptb.discord.com/api/webhooks/",
        ],
        r"https://(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/[0-9]{15,22}/[A-Za-z0-9_-]{60,80}",
        Check::Mixed(2),
    ),
    PatternSpec {
        specificity: Specificity::Family,
        // No upper bounds: a counted run is one NFA copy of its class per count (7,000 copies, 0.6 MB, when the
        // three parts stopped at 2,000, 4,000 and 1,000 characters), and a token with a larger payload is a
        // leak all the same.
        ..token("jwt", &["eyJ"], r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{16,}", Check::Placeholder)
    },
    PatternSpec {
        boundary_before: false,
        boundary_after: false,
        ..token(
            "private_key",
            &["-----BEGIN "],
            r"-----BEGIN (?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY-----(?:\s|\\[rn]){0,8}(?:[A-Za-z-]{2,40}:[^\r\n\\]{0,200}(?:\s|\\[rn]){1,8})*[A-Za-z0-9+/=\s\\]{40,}(?:-----END (?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY-----)?",
            Check::Placeholder,
        )
    },
    PatternSpec {
        boundary_before: false,
        boundary_after: false,
        ..token(
            "openssh_private_key",
            &["-----BEGIN "],
            r"-----BEGIN OPENSSH PRIVATE KEY-----[A-Za-z0-9+/=\s\\]{40,}(?:-----END OPENSSH PRIVATE KEY-----)?",
            Check::Placeholder,
        )
    },
    PatternSpec {
        boundary_before: false,
        boundary_after: false,
        ..token(
            "pgp_private_key",
            &["-----BEGIN "],
            r"-----BEGIN PGP PRIVATE KEY BLOCK-----(?:\s|\\[rn]){0,8}(?:[A-Za-z-]{2,40}:[^\r\n\\]{0,200}(?:\s|\\[rn]){1,8})*[A-Za-z0-9+/=\s\\]{40,}(?:-----END PGP PRIVATE KEY BLOCK-----)?",
            Check::Placeholder,
        )
    },
    PatternSpec {
        start: Start::BackOver { class: ByteClass::SchemeChars, max: 16 },
        boundary_after: false,
        // User, password and host runs are unbounded (`*`, `+`): a counted run of a Unicode class (`{1,256}`) is
        // one copy of the class per count, about 0.4 MB of NFA per URL pattern, and the engines take linear time
        // on any length anyway.
        ..token(
            "database_url_with_password",
            &["://"],
            r#"(?i:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|clickhouse|cockroachdb|couchdb|neo4j(?:\+s)?)://[^\s:/@'"<>]*:(?P<secret>[^\s@/'"<>]+)@[^\s/'"?#<>,;)]+"#,
            Check::Password,
        )
    },
    PatternSpec {
        start: Start::BackOver { class: ByteClass::SchemeChars, max: 16 },
        boundary_after: false,
        specificity: Specificity::Generic,
        ..token(
            "url_basic_auth",
            &["://"],
            r#"(?i:https?|ftps?|wss?|git|ssh|sftp|smtps?|imaps?|ldaps?)://[^\s:/@'"<>]+:(?P<secret>[^\s@/'"<>]+)@[^\s/'"?#<>,;)]+"#,
            Check::Password,
        )
    },
    PatternSpec {
        specificity: Specificity::Generic,
        ..token(
            "bearer_token",
            &["Bearer ", "bearer ", "BEARER ", "Bearer\t"],
            r"(?:Bearer|bearer|BEARER)[ \t]{1,4}(?P<secret>[A-Za-z0-9._~+/-]{20,2000}=*)",
            Check::Entropy(3.0),
        )
    },
];
