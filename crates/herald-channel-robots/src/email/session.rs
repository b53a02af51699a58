//! One SMTP session driven step by step with lettre's connection type, so every failure is
//! known with its [`Stage`] (lettre's transport sends a whole mail in one call and cannot
//! say whether a timeout hit before or after the content went out).
//!
//! A session carries several messages of one batch: after a rejected envelope it sends
//! `RSET` and goes on; after any transport failure it is dropped.

use super::errors::{SmtpFailure, Stage};
use super::settings::{EmailSettings, TlsMode};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use std::future::Future;
use tokio::time::Instant;

/// A failure and where it happened.
pub type StepError = (Stage, SmtpFailure);

/// Runs `step` until `deadline`, tagging failures with `stage`.
async fn step<T>(
    stage: Stage,
    deadline: Instant,
    step: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, StepError> {
    match tokio::time::timeout_at(deadline, step).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err((stage, SmtpFailure::Smtp(error))),
        Err(_) => Err((stage, SmtpFailure::Timeout)),
    }
}

/// An open, greeted (and, as configured, encrypted and authenticated) SMTP connection.
pub struct Session {
    connection: AsyncSmtpConnection,
}

impl Session {
    /// Connects, upgrades to TLS as configured, and authenticates.
    pub async fn open(settings: &EmailSettings, deadline: Instant) -> Result<Self, StepError> {
        let hello = settings
            .hello_name
            .clone()
            .map_or_else(ClientId::default, ClientId::Domain);
        let tls = || {
            TlsParameters::new(settings.host.clone())
                .map_err(|e| (Stage::Connect, SmtpFailure::Smtp(e)))
        };
        let implicit = match settings.tls {
            TlsMode::Tls => Some(tls()?),
            TlsMode::Starttls | TlsMode::None => None,
        };
        let timeout = deadline.saturating_duration_since(Instant::now());
        let mut connection = step(
            Stage::Connect,
            deadline,
            AsyncSmtpConnection::connect_tokio1(
                (settings.host.as_str(), settings.port),
                Some(timeout),
                &hello,
                implicit,
                None,
            ),
        )
        .await?;
        if settings.tls == TlsMode::Starttls {
            let parameters = tls().map_err(|(_, failure)| (Stage::Starttls, failure))?;
            step(
                Stage::Starttls,
                deadline,
                connection.starttls(parameters, &hello),
            )
            .await?;
        }
        if let Some((user, password)) = &settings.credentials {
            let credentials = Credentials::new(user.clone(), password.clone());
            step(
                Stage::Auth,
                deadline,
                connection.auth(&[Mechanism::Plain, Mechanism::Login], &credentials),
            )
            .await?;
        }
        Ok(Self { connection })
    }

    /// Sends one message: `MAIL`, `RCPT`s, `DATA`, content. Returns the final reply.
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        bytes: &[u8],
        deadline: Instant,
    ) -> Result<Response, StepError> {
        let info = self.connection.server_info();
        let mut parameters = Vec::new();
        let non_ascii_address = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .any(|address| !AsRef::<str>::as_ref(address).is_ascii());
        if non_ascii_address && info.supports_feature(Extension::SmtpUtfEight) {
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() && info.supports_feature(Extension::EightBitMime) {
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let from = envelope.from().cloned();
        let connection = &mut self.connection;
        step(
            Stage::Envelope,
            deadline,
            connection.command(Mail::new(from, parameters)),
        )
        .await?;
        for to in envelope.to() {
            step(
                Stage::Envelope,
                deadline,
                connection.command(Rcpt::new(to.clone(), vec![])),
            )
            .await?;
        }
        step(Stage::Envelope, deadline, connection.command(Data)).await?;
        step(Stage::Content, deadline, connection.message(bytes)).await
    }

    /// Clears a rejected transaction so the next message can use the session; false when
    /// the session is no longer usable.
    pub async fn reset(&mut self, deadline: Instant) -> bool {
        step(Stage::Envelope, deadline, self.connection.command(Rset))
            .await
            .is_ok()
    }

    /// Says `QUIT` (best effort, until `deadline`) and closes the connection.
    pub async fn close(mut self, deadline: Instant) {
        let _ = tokio::time::timeout_at(deadline, self.connection.abort()).await;
    }
}
