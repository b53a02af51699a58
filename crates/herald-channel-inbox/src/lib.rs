//! Herald's in-site inbox: a channel like the others, where *stored = delivered*.
//!
//! - [`InboxChannel`] implements [`herald_ports::Channel`] for `ChannelKind::Inbox`: each
//!   delivery is stored for its receiver (`receiver.to` = the end-user id) under its app,
//!   with the rendered title, body and fields, keyed by the delivery id (a redelivered task
//!   stores nothing), and answers `Delivered`.
//! - [`user_routes`] is the end-user HTTP API under `/v1/inbox` (list with cursor, unread
//!   count, mark read/unread/archive, read-all, delete, SSE stream), authenticated with
//!   per-user tokens signed by the business backend — never with app API keys.
//! - [`InboxHub`] carries live events from the channel and the API to open streams.
//! - [`token`]: the token format, [`mint_user_token`] (the reference signer for business
//!   backends, tests and the CLI) and [`UserTokenVerifier`].
//!
//! # User tokens
//!
//! ```text
//! hkusr.v1.<payload>.<signature>
//! payload   = base64url-nopad( JSON {"app": "<app id>", "sub": "<user id>", "exp": <unix seconds>} )
//! signature = base64url-nopad( HMAC-SHA256( user_token_secret, "hkusr.v1." + payload ) )
//! ```
//!
//! `sub` must be a valid inbox receiver (1–128 characters, no whitespace or control
//! characters); `exp` is exclusive. The per-app `user_token_secret` comes from a
//! [`UserSecrets`] the server supplies (configuration, an inbox account's secret, …).
//!
//! # Account settings
//!
//! | channel | account `config` keys | `secret` keys | template `fields` read |
//! |---|---|---|---|
//! | `inbox` | none | none (the user token secret is per app, see [`UserSecrets`]) | all of them, stored as the message's `fields` (e.g. `link`, `icon`, `category`) and returned to end-user apps as they are |
//!
//! # Wiring (composition root)
//!
//! ```ignore
//! let hub = InboxHub::new();
//! let inbox: Arc<dyn Inbox> = store.inbox.clone();
//! channels.register(Arc::new(InboxChannel::new(inbox.clone(), hub.clone())));
//! let verifier = UserTokenVerifier::new(Arc::new(secrets));
//! app = app.merge(user_routes(inbox, hub, verifier));
//! ```

pub mod api;
pub mod channel;
pub mod hub;
pub mod token;

pub use api::user_routes;
pub use channel::InboxChannel;
pub use hub::{InboxEvent, InboxHub, Subscription};
pub use token::{
    EndUser, MintError, StaticUserSecrets, TokenError, UserClaims, UserSecrets, UserTokenVerifier,
    mint_user_token, mint_user_token_until,
};
