//! E-mail copies of notices (告知邮件), sent through SMTP after the decision's transaction has
//! committed: the notices table is the outbox, and each node claims a notice before sending it.
//!
//! A notice is sent at least once and, unless a node dies between the server's "250 OK" and
//! recording it, exactly once. The wording comes from the server's translations through
//! [`RenderMail`], since only the server has the locale files.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use pubdata_store::{now_ms, EmailState, NoticeRow, UnsentNotice};
use serde::Deserialize;

use crate::{Result, Store, StoreError};

/// Notices looked at in one pass.
const BATCH: i64 = 500;
/// A claim older than this belongs to a node that died while sending.
const STALE_CLAIM_MS: i64 = 10 * 60 * 1000;
/// Tries for a failure that may pass (4xx, a dropped connection) before giving up.
const MAX_ATTEMPTS: u32 = 10;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    /// Plain SMTP, e.g. to a relay on the same host or network.
    None,
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587 or 25).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

impl FromStr for MailTls {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(MailTls::None),
            "starttls" => Ok(MailTls::Starttls),
            "tls" => Ok(MailTls::Tls),
            _ => Err(format!("{s:?} is not an SMTP TLS mode: use none, starttls or tls")),
        }
    }
}

/// Where and how to send e-mail.
#[derive(Clone)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub tls: MailTls,
    /// Log in with these when both are set.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, e.g. `公共数据开放平台 <noreply@data.example.gov.cn>`.
    pub from: String,
    /// The portal's public address, the base of the links in e-mails.
    pub portal_url: String,
    /// Older notices are not e-mailed (the inbox still has them), so that turning mail on
    /// does not send a deployment's whole history.
    pub max_age: Duration,
    /// For each SMTP command.
    pub timeout: Duration,
}

/// Shows everything but the password.
impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .field("portal_url", &self.portal_url)
            .finish_non_exhaustive()
    }
}

impl MailSettings {
    pub fn new(host: impl Into<String>, from: impl Into<String>, portal_url: impl Into<String>) -> Self {
        MailSettings {
            host: host.into(),
            port: 25,
            tls: MailTls::default(),
            username: None,
            password: None,
            from: from.into(),
            portal_url: portal_url.into(),
            max_age: Duration::from_secs(7 * 24 * 3600),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What an e-mail is made from: the notice, who gets it and absolute links.
pub struct Letter<'a> {
    pub notice: &'a NoticeRow,
    /// The recipient's display name.
    pub name: &'a str,
    /// The notice's link on the portal, made absolute.
    pub link: Option<String>,
    /// The recipient's inbox on the portal.
    pub inbox: String,
}

/// The words of one e-mail (plain text, UTF-8).
#[derive(Debug, Clone)]
pub struct MailContent {
    pub subject: String,
    pub text: String,
}

/// Renders a notice as an e-mail in the recipient's language(s).
pub trait RenderMail: Send + Sync {
    fn render(&self, letter: &Letter<'_>) -> MailContent;
}

impl<F> RenderMail for F
where
    F: Fn(&Letter<'_>) -> MailContent + Send + Sync,
{
    fn render(&self, letter: &Letter<'_>) -> MailContent {
        self(letter)
    }
}

/// Sends the e-mail copies of notices through one SMTP server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
    from: Mailbox,
    portal_url: String,
    max_age_ms: i64,
    /// Who claims notices, e.g. `host:port-pid`: written into the claim for operators.
    node: String,
    render: Arc<dyn RenderMail>,
}

/// How one e-mail went.
enum Outcome {
    Sent,
    /// Will not get better by retrying: an invalid address, a 5xx reply.
    Failed(String),
    /// May get better: a 4xx reply, a dropped connection.
    Later(String),
}

impl Mailer {
    /// Checks the settings (the sender must be an address) and prepares the transport; no
    /// connection is made until there is something to send.
    pub fn new(settings: &MailSettings, node: impl Into<String>, render: impl RenderMail + 'static) -> Result<Mailer> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| StoreError::Other(format!("mail_from {:?} is not a mailbox: {e}", settings.from)))?;
        let tls = match settings.tls {
            MailTls::None => Tls::None,
            MailTls::Starttls => Tls::Required(tls_parameters(&settings.host)?),
            MailTls::Tls => Tls::Wrapper(tls_parameters(&settings.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            server: format!("{}:{}", settings.host, settings.port),
            from,
            portal_url: settings.portal_url.trim_end_matches('/').to_string(),
            max_age_ms: settings.max_age.as_millis().try_into().unwrap_or(i64::MAX),
            node: node.into(),
            render: Arc::new(render),
        })
    }

    /// Sends every notice that is due and returns how many went out. When the server cannot
    /// be reached (or refuses the login) nothing is touched and the error says why.
    pub async fn send_pending(&self, store: &Store) -> Result<usize> {
        let now = now_ms();
        let due: Vec<(UnsentNotice, u32)> = store
            .unsent_notices(now.saturating_sub(self.max_age_ms), BATCH)
            .await?
            .into_iter()
            .filter_map(|n| attempt_due(&n.state, now).map(|attempt| (n, attempt)))
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        // One connection (with the login) before claiming anything: an outage or a wrong
        // password must not count against, or fail, the notices themselves.
        match self.transport.test_connection().await {
            Ok(true) => {}
            Ok(false) => return Err(self.unreachable("it did not answer NOOP")),
            Err(e) => return Err(self.unreachable(&e.to_string())),
        }
        let mut sent = 0;
        for (n, attempt) in due {
            if self.send_one(store, &n, attempt).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Sends the notices every `every` until the process ends.
    pub async fn run(self, store: Store, every: Duration) {
        let mut failing = false;
        loop {
            match self.send_pending(&store).await {
                Ok(n) => {
                    if failing {
                        tracing::info!("notice e-mail works again");
                    }
                    failing = false;
                    if n > 0 {
                        tracing::info!("e-mailed {n} notices");
                    }
                }
                Err(e) => {
                    // Said once per outage, not every few seconds.
                    if !failing {
                        tracing::warn!("notice e-mail: {e}");
                    }
                    failing = true;
                }
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Claims, sends and records one notice; `false` if another node had it or it failed.
    async fn send_one(&self, store: &Store, n: &UnsentNotice, attempt: u32) -> Result<bool> {
        let claim = EmailState::Sending {
            attempt,
            since: now_ms(),
            node: self.node.clone(),
        };
        if !store.set_email_state(n.notice.id, &n.state, &claim).await? {
            return Ok(false);
        }
        let (next, sent) = match self.deliver(n).await {
            Outcome::Sent => (EmailState::Sent(now_ms()), true),
            Outcome::Failed(error) => (EmailState::Failed(error), false),
            Outcome::Later(error) if attempt >= MAX_ATTEMPTS => (
                EmailState::Failed(format!("gave up after {attempt} attempts: {error}")),
                false,
            ),
            Outcome::Later(error) => (
                EmailState::Retry {
                    attempts: attempt,
                    not_before: now_ms() + backoff_ms(attempt),
                    error,
                },
                false,
            ),
        };
        if let EmailState::Failed(error) | EmailState::Retry { error, .. } = &next {
            tracing::warn!("e-mail for notice {} (attempt {attempt}): {error}", n.notice.id);
        }
        if !store.set_email_state(n.notice.id, &claim, &next).await? {
            tracing::warn!("notice {}: the e-mail claim was taken over while sending", n.notice.id);
        }
        Ok(sent)
    }

    async fn deliver(&self, n: &UnsentNotice) -> Outcome {
        let address: Address = match n.email.trim().parse() {
            Ok(a) => a,
            Err(e) if n.email.trim().is_empty() => return Outcome::Failed(format!("no e-mail address ({e})")),
            Err(e) => return Outcome::Failed(format!("{:?} is not a valid e-mail address: {e}", n.email)),
        };
        let name = n.display_name.trim();
        let to = Mailbox::new((!name.is_empty()).then(|| name.to_string()), address);
        let letter = Letter {
            notice: &n.notice,
            name,
            link: n.notice.link.as_deref().map(|l| self.absolute(l)),
            inbox: self.absolute("/inbox"),
        };
        let content = self.render.render(&letter);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(content.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(content.text);
        let message = match message {
            Ok(m) => m,
            Err(e) => return Outcome::Failed(format!("cannot make the message: {e}")),
        };
        match self.transport.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(e) if e.is_permanent() => Outcome::Failed(e.to_string()),
            Err(e) => Outcome::Later(e.to_string()),
        }
    }

    /// A link on the portal as an absolute URL; absolute links are kept.
    fn absolute(&self, link: &str) -> String {
        if link.starts_with("https://") || link.starts_with("http://") {
            link.to_string()
        } else {
            format!("{}/{}", self.portal_url, link.trim_start_matches('/'))
        }
    }

    fn unreachable(&self, why: &str) -> StoreError {
        StoreError::Other(format!(
            "cannot use the mail server {}: {why}; notices stay queued",
            self.server
        ))
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters> {
    TlsParameters::new(host.to_string()).map_err(|e| StoreError::Other(format!("TLS for {host}: {e}")))
}

/// The number of the try to make now, or `None` when the notice is not due: another node is
/// sending it, or it waits for its next retry.
fn attempt_due(state: &EmailState, now: i64) -> Option<u32> {
    match state {
        EmailState::Pending => Some(1),
        EmailState::Retry {
            attempts, not_before, ..
        } if *not_before <= now => Some(attempts + 1),
        EmailState::Sending { attempt, since, .. } if since + STALE_CLAIM_MS <= now => Some(attempt + 1),
        _ => None,
    }
}

/// 1, 2, 4, … minutes after each failed try, at most two hours.
fn backoff_ms(attempts: u32) -> i64 {
    60_000 * 2i64.pow(attempts.clamp(1, 8) - 1).min(120)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_attempts_follow_the_outbox_state() {
        let now = 1_000_000_000;
        assert_eq!(attempt_due(&EmailState::Pending, now), Some(1));
        let waiting = EmailState::Retry {
            attempts: 2,
            not_before: now + 1,
            error: "451".into(),
        };
        assert_eq!(attempt_due(&waiting, now), None);
        assert_eq!(attempt_due(&waiting, now + 1), Some(3));
        let sending = EmailState::Sending {
            attempt: 1,
            since: now,
            node: "a:1-2".into(),
        };
        assert_eq!(attempt_due(&sending, now + 1000), None, "another node is sending it");
        assert_eq!(attempt_due(&sending, now + STALE_CLAIM_MS), Some(2), "that node died");
        assert_eq!(attempt_due(&EmailState::Failed("550".into()), now), None);
        assert_eq!(attempt_due(&EmailState::Sent(now), now), None);
    }

    #[test]
    fn backoff_doubles_up_to_two_hours() {
        let minutes: Vec<i64> = (1..=10).map(|a| backoff_ms(a) / 60_000).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 64, 120, 120, 120]);
    }

    #[test]
    fn tls_modes_parse_and_bad_ones_are_named() {
        assert_eq!("STARTTLS".parse::<MailTls>(), Ok(MailTls::Starttls));
        assert_eq!("none".parse::<MailTls>(), Ok(MailTls::None));
        assert!("ssl".parse::<MailTls>().unwrap_err().contains("none, starttls or tls"));
    }
}
