//! [`EmailChannel`]: sends a batch of one account's emails over one SMTP session and
//! classifies each message's fate with the stage it failed at.

use super::compose::compose;
use super::errors::{Stage, classify};
use super::session::Session;
use super::settings::EmailSettings;
use async_trait::async_trait;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, Channel, OutboundMessage, SendResult};
use std::time::Duration;
use tokio::time::Instant;

/// Most messages one SMTP session carries (one dispatcher batch).
pub const MAX_BATCH: usize = 20;
/// How long a session may take to say goodbye after its last message.
const QUIT_GRACE: Duration = Duration::from_secs(2);

/// The SMTP email channel.
#[derive(Debug, Default, Clone)]
pub struct EmailChannel;

impl EmailChannel {
    pub fn new() -> Self {
        Self
    }
}

/// One message's attempt inside a batch session.
async fn send_in_session(
    settings: &EmailSettings,
    session: &mut Option<Session>,
    message: &OutboundMessage,
) -> (Outcome, Option<String>) {
    let composed = match compose(message, &settings.from) {
        Ok(composed) => composed,
        Err(outcome) => return (outcome, None),
    };
    let deadline = Instant::now() + settings.timeout;
    let open = match session.take() {
        Some(open) => open,
        None => match Session::open(settings, deadline).await {
            Ok(open) => open,
            Err((stage, failure)) => return (classify(stage, &failure), None),
        },
    };
    let mut open = open;
    match open
        .send(&composed.envelope, &composed.bytes, deadline)
        .await
    {
        Ok(_reply) => {
            *session = Some(open);
            let provider_id = Some(composed.message_id);
            (
                Outcome::Delivered {
                    provider_id: provider_id.clone(),
                },
                provider_id,
            )
        }
        Err((stage, failure)) => {
            let outcome = classify(stage, &failure);
            // A refused envelope leaves the session usable after RSET; anything else
            // (transport trouble, a reply to the content) ends it.
            let refused_envelope = stage == Stage::Envelope
                && matches!(
                    outcome,
                    Outcome::Retryable { .. } | Outcome::Permanent { .. }
                )
                && outcome.code().is_some_and(|c| c.starts_with("smtp_"));
            if refused_envelope && open.reset(Instant::now() + QUIT_GRACE).await {
                *session = Some(open);
            } else {
                open.close(Instant::now() + QUIT_GRACE).await;
            }
            (outcome, None)
        }
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        let started = std::time::Instant::now();
        let settings = match EmailSettings::from_account(account) {
            Ok(settings) => settings,
            Err(outcome) => {
                return batch
                    .iter()
                    .map(|_| SendResult {
                        outcome: outcome.clone(),
                        provider_request_id: None,
                        latency: started.elapsed(),
                    })
                    .collect();
            }
        };
        let mut session: Option<Session> = None;
        let mut results = Vec::with_capacity(batch.len());
        let mut unreachable: Option<Outcome> = None;
        for message in batch {
            let started = std::time::Instant::now();
            // When the server could not be reached for one message, the rest of the batch
            // gets the same answer instead of waiting out the same timeout again.
            let (outcome, provider_request_id) = match &unreachable {
                Some(outcome) => (outcome.clone(), None),
                None => send_in_session(&settings, &mut session, message).await,
            };
            if session.is_none()
                && matches!(&outcome, Outcome::Retryable { code, .. } if code == "connect" || code == "tls" || code == "timeout")
            {
                unreachable = Some(outcome.clone());
            }
            tracing::debug!(
                delivery_id = %message.delivery_id,
                class = outcome.class(),
                code = outcome.code(),
                "email send"
            );
            results.push(SendResult {
                outcome,
                provider_request_id,
                latency: started.elapsed(),
            });
        }
        if let Some(open) = session {
            open.close(Instant::now() + QUIT_GRACE).await;
        }
        results
    }
}
