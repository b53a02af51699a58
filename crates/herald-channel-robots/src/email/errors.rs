//! The email error table as code: an SMTP failure, and the stage of the session it happened
//! in, → [`Outcome`]. The table itself is documented in the [module doc](super).

use herald_domain::Outcome;

/// Where in the SMTP session a failure happened. Everything before [`Stage::Content`] is
/// provably undelivered (the server cannot accept a message before the final `.`), so
/// transport failures there are safe to retry; during content they are `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// TCP connect, implicit TLS, greeting, `EHLO`.
    Connect,
    /// `STARTTLS` and the second `EHLO`.
    Starttls,
    /// `AUTH`.
    Auth,
    /// `MAIL FROM`, `RCPT TO`, `DATA`.
    Envelope,
    /// The message bytes, the final `.` and the server's reply to it.
    Content,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Starttls => "starttls",
            Self::Auth => "auth",
            Self::Envelope => "envelope",
            Self::Content => "content",
        }
    }
}

/// A failure of one session step.
#[derive(Debug)]
pub enum SmtpFailure {
    /// The step's deadline passed.
    Timeout,
    /// lettre's error (a negative reply, I/O, TLS, or a client-side refusal).
    Smtp(lettre::transport::smtp::Error),
}

/// Classifies `failure` at `stage`.
pub fn classify(stage: Stage, failure: &SmtpFailure) -> Outcome {
    let at = stage.name();
    let error = match failure {
        SmtpFailure::Timeout if stage == Stage::Content => {
            return Outcome::Unknown {
                code: "timeout".into(),
                message: "no reply to the end of DATA in time: the message may have been accepted"
                    .into(),
            };
        }
        SmtpFailure::Timeout => {
            return Outcome::Retryable {
                code: "timeout".into(),
                message: format!("timed out during {at}; nothing was accepted"),
                retry_after_ms: None,
            };
        }
        SmtpFailure::Smtp(error) => error,
    };
    let message = format!("{at}: {}", herald_ports::error::error_chain(error));
    if let Some(code) = error.status() {
        let code_text = format!("smtp_{code}");
        return if error.is_transient() {
            Outcome::Retryable {
                code: code_text,
                message,
                retry_after_ms: None,
            }
        } else {
            Outcome::Permanent {
                code: code_text,
                message,
            }
        };
    }
    if error.is_client() {
        // lettre refused before sending (no STARTTLS offered, no usable AUTH mechanism, …):
        // the server's setup, which a resend does not change.
        return Outcome::Permanent {
            code: "smtp_client".into(),
            message,
        };
    }
    if stage == Stage::Content {
        return Outcome::Unknown {
            code: if error.is_timeout() { "timeout" } else { "io" }.into(),
            message,
        };
    }
    let code = if error.is_tls() || handshake_failed(error) {
        "tls"
    } else if error.is_timeout() {
        "timeout"
    } else if stage == Stage::Connect {
        "connect"
    } else {
        "io"
    };
    Outcome::Retryable {
        code: code.into(),
        message,
        retry_after_ms: None,
    }
}

/// Whether the failure is a TLS handshake refusal (bad certificate, no common cipher):
/// lettre reports those as connection errors wrapping an `InvalidData` I/O error.
fn handshake_failed(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::InvalidData;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_unknown_only_once_the_content_went_out() {
        assert_eq!(
            classify(Stage::Content, &SmtpFailure::Timeout).class(),
            "unknown"
        );
        for stage in [
            Stage::Connect,
            Stage::Starttls,
            Stage::Auth,
            Stage::Envelope,
        ] {
            let outcome = classify(stage, &SmtpFailure::Timeout);
            assert_eq!(
                (outcome.class(), outcome.code()),
                ("retryable", Some("timeout"))
            );
        }
    }
}
