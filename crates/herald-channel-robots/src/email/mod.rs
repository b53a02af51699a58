//! The email channel: SMTP submission with STARTTLS, implicit TLS or (loopback/trusted
//! networks only) plain, through lettre's tokio connection with rustls.
//!
//! - [`client`]: [`EmailChannel`], the [`Channel`](herald_ports::Channel) implementation:
//!   one SMTP session per batch (up to [`client::MAX_BATCH`] messages).
//! - [`settings`]: account config and secret.
//! - [`compose`]: the email itself (Subject, text, optional HTML, `Message-ID`).
//! - [`session`]: the SMTP steps, each failure tagged with its stage.
//! - [`errors`]: the error table below, as code.
//!
//! TLS: lettre's `tokio1-rustls` with the `aws-lc-rs` provider and
//! `rustls-platform-verifier` — the crypto provider and certificate verifier reqwest already
//! uses in this workspace, so no second provider (ring) or OpenSSL (native-tls) is linked.
//!
//! SMTP has no delivery receipts: a `250` to the end of `DATA` means the server took
//! responsibility, so success is `Delivered` with `provider_id` = the `Message-ID`
//! `<delivery-id@sender-domain>`. The same delivery always carries the same `Message-ID`, so
//! a resend after `unknown` can be recognised by mail systems that dedupe on it.
//!
//! ## Error table
//! | what happened | outcome | code | notes |
//! |---|---|---|---|
//! | `250` after `DATA` content | `Delivered` | — | `provider_id` = `Message-ID` |
//! | `4xx` reply at any step (greylisting `451`, mailbox busy `450`, `421` closing) | `Retryable` | `smtp_<code>` | |
//! | `5xx` reply at any step (`550` no such mailbox, `552` too big, `535` auth failed, `554`) | `Permanent` | `smtp_<code>` | |
//! | connection refused, DNS failure | `Retryable` | `connect` | nothing was sent |
//! | TLS handshake failure | `Retryable` | `tls` | check the server's certificate if it persists |
//! | timeout before the content went out | `Retryable` | `timeout` | the server cannot have accepted anything |
//! | timeout or broken connection after the content (waiting for the reply to `.`) | `Unknown` | `timeout`, `io` | may have been accepted: not resent blindly |
//! | server offers no `STARTTLS` / no usable `AUTH` mechanism | `Permanent` | `smtp_client` | fix the server or the account |
//! | bad config, credentials over plain to a remote host | `Permanent` | `config_invalid` | |
//! | receiver not an address / bad `reply_to` | `Permanent` | `invalid_receiver` / `template_invalid` | |

pub mod client;
pub mod compose;
pub mod errors;
pub mod session;
pub mod settings;

pub use client::EmailChannel;
