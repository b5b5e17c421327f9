//! `sift digest --mail`: the digest sent by SMTP (lettre, TLS by rustls) to
//! the addresses in the config file's `[digest]` section:
//!
//! ```toml
//! [digest]
//! recipients = ["appsec-leads@example.com"]
//! from = "sift <sift@example.com>"
//! smtp_host = "smtp.example.com"
//! smtp_port = 587                     # default: 587 for starttls, 465 for tls, 25 for none
//! tls = "starttls"                    # starttls (default), tls (implicit, "SMTPS") or none
//! username = "sift@example.com"       # optional: no login without it
//! password_env = "SIFT_SMTP_PASSWORD" # the variable that holds the password; never the password
//! ```
//!
//! The password is read from the environment when the mail is sent; sift
//! never writes it, logs it or shows it. `tls = "none"` (plain SMTP) is
//! accepted only to this machine, like plain `http://` (`crate::net`).

use super::Digest;
use super::render;
use crate::text::inert;
use anyhow::{Context as _, Result, anyhow, bail};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use serde::Deserialize;
use std::time::Duration;

/// What `sift digest --mail` says when the config has no `[digest]`.
pub const NOT_CONFIGURED: &str = "sift digest --mail needs a [digest] section in the config \
     file: recipients, from and smtp_host at least (see the README, \"The Monday digest\")";

/// The longest wait for the SMTP server, unless the config says.
const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// The `[digest]` table as written.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DigestToml {
    #[serde(default)]
    pub recipients: Vec<String>,
    pub from: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub tls: Option<TlsMode>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    /// Longest wait for the server, in seconds (default 30).
    pub timeout_secs: Option<u64>,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded by STARTTLS, which must succeed.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: only to this machine.
    None,
}

impl TlsMode {
    fn default_port(self) -> u16 {
        match self {
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
            TlsMode::None => 25,
        }
    }
}

/// The `[digest]` section checked: where and how to send.
#[derive(Debug, Clone, PartialEq)]
pub struct MailSettings {
    pub recipients: Vec<Mailbox>,
    pub from: Mailbox,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// The login and the variable that holds its password.
    pub login: Option<(String, String)>,
    pub timeout: Duration,
}

impl MailSettings {
    /// Checks the section as written; says what is missing or wrong.
    pub fn resolve(toml: &DigestToml) -> Result<MailSettings> {
        if toml.recipients.is_empty() {
            bail!("[digest] recipients is empty: name at least one address");
        }
        let recipients = toml
            .recipients
            .iter()
            .map(|r| mailbox("recipients", r))
            .collect::<Result<Vec<_>>>()?;
        let from = mailbox(
            "from",
            toml.from
                .as_deref()
                .ok_or_else(|| anyhow!("[digest] from is missing: the sender's address"))?,
        )?;
        let host = toml
            .smtp_host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or_else(|| anyhow!("[digest] smtp_host is missing: the SMTP server to send by"))?
            .to_string();
        let tls = toml.tls.unwrap_or(TlsMode::Starttls);
        if tls == TlsMode::None && !crate::net::is_loopback_host(&host) {
            bail!(
                "[digest] tls = \"none\" to {}: refusing plain SMTP to another machine, \
                 the digest and the password would cross the network unencrypted; use \
                 starttls or tls, or a server on this machine",
                inert(&host)
            );
        }
        let login = match (&toml.username, &toml.password_env) {
            (Some(user), Some(var)) => Some((user.clone(), var.clone())),
            (None, None) => None,
            (Some(_), None) => bail!(
                "[digest] username is set but not password_env, the environment variable \
                 that holds the password"
            ),
            (None, Some(_)) => bail!("[digest] password_env is set but not username"),
        };
        Ok(MailSettings {
            recipients,
            from,
            port: toml.smtp_port.unwrap_or(tls.default_port()),
            host,
            tls,
            login,
            timeout: Duration::from_secs(toml.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1)),
        })
    }

    /// "smtp.example.com:587".
    pub fn server(&self) -> String {
        format!("{}:{}", inert(&self.host), self.port)
    }
}

fn mailbox(field: &str, text: &str) -> Result<Mailbox> {
    text.trim().parse::<Mailbox>().map_err(|e| {
        anyhow!(
            "[digest] {field}: {:?} is not a mail address ({e})",
            inert(text)
        )
    })
}

/// The message: the text digest and the HTML one as alternatives.
pub fn message(settings: &MailSettings, digest: &Digest) -> Result<Message> {
    let mut builder = Message::builder()
        .from(settings.from.clone())
        .subject(render::subject(digest));
    for to in &settings.recipients {
        builder = builder.to(to.clone());
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            render::text(digest),
            render::html(digest),
        ))
        .context("cannot build the digest's mail")
}

/// Sends the digest; an error says which server refused it and why.
pub fn send(settings: &MailSettings, digest: &Digest) -> Result<()> {
    let message = message(settings, digest)?;
    let password = match &settings.login {
        Some((user, var)) => {
            let password = std::env::var(var).map_err(|_| {
                anyhow!(
                    "[digest] password_env names {}, which is not set: the SMTP password \
                     goes in that environment variable",
                    inert(var)
                )
            })?;
            Some((user.clone(), password))
        }
        None => None,
    };
    // Installed once per process; a second install is refused, harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = match settings.tls {
        TlsMode::None => Tls::None,
        TlsMode::Starttls => Tls::Required(tls_parameters(&settings.host)?),
        TlsMode::Tls => Tls::Wrapper(tls_parameters(&settings.host)?),
    };
    let mut transport = SmtpTransport::builder_dangerous(settings.host.as_str())
        .port(settings.port)
        .tls(tls)
        .timeout(Some(settings.timeout));
    if let Some((user, password)) = &password {
        transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let redact = |text: String| match &password {
        Some((_, secret)) => crate::net::redact(&text, secret),
        None => text,
    };
    match transport.build().send(&message) {
        Ok(_) => Ok(()),
        Err(e) => {
            let why = redact(format!("{e}"));
            if e.is_permanent() || e.is_transient() {
                bail!(
                    "the SMTP server {} refused the digest: {}; nothing was sent",
                    settings.server(),
                    inert(&why)
                )
            }
            bail!(
                "cannot send the digest by the SMTP server {}: {}; nothing was sent",
                settings.server(),
                inert(&why)
            )
        }
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters> {
    TlsParameters::new(host.to_string())
        .map_err(|e| anyhow!("cannot set up TLS to {}: {e}", inert(host)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> DigestToml {
        DigestToml {
            recipients: vec!["a@example.com".into(), "Bo <b@example.com>".into()],
            from: Some("sift <sift@example.com>".into()),
            smtp_host: Some("smtp.example.com".into()),
            ..DigestToml::default()
        }
    }

    #[test]
    fn defaults_are_starttls_on_587_without_login() {
        let s = MailSettings::resolve(&section()).unwrap();
        assert_eq!(
            (s.tls, s.port, s.login.clone()),
            (TlsMode::Starttls, 587, None)
        );
        assert_eq!(s.recipients.len(), 2);
        let mut implicit = section();
        implicit.tls = Some(TlsMode::Tls);
        assert_eq!(MailSettings::resolve(&implicit).unwrap().port, 465);
    }

    #[test]
    fn plain_smtp_goes_only_to_this_machine() {
        let mut plain = section();
        plain.tls = Some(TlsMode::None);
        let e = MailSettings::resolve(&plain).unwrap_err().to_string();
        assert!(e.contains("refusing plain SMTP"), "{e}");
        for host in ["127.0.0.1", "localhost", "::1", "[::1]"] {
            plain.smtp_host = Some(host.into());
            assert!(MailSettings::resolve(&plain).is_ok(), "{host}");
        }
    }

    #[test]
    fn what_is_missing_or_wrong_is_named() {
        type Spoil = fn(&mut DigestToml);
        let cases: [(Spoil, &str); 5] = [
            (|d| d.recipients.clear(), "recipients is empty"),
            (
                |d| d.recipients.push("not an address".into()),
                "not a mail address",
            ),
            (|d| d.from = None, "from is missing"),
            (|d| d.smtp_host = Some(" ".into()), "smtp_host is missing"),
            (|d| d.username = Some("u".into()), "password_env"),
        ];
        for (spoil, said) in cases {
            let mut d = section();
            spoil(&mut d);
            let e = MailSettings::resolve(&d).unwrap_err().to_string();
            assert!(e.contains(said), "{said}: {e}");
        }
    }
}
