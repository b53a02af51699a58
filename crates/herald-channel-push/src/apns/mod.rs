//! Apple Push Notification service, token-based (`.p8` key) HTTP/2 API.
//!
//! - [`client`]: [`ApnsChannel`], one `POST /3/device/<token>` per delivery over HTTP/2.
//! - [`jwt`]: the ES256 provider token (reused ~50 min through the shared token cache under
//!   `apns:<team>:<key id>`, within Apple's 20–60 min window) and the `apns-id` derivation.
//! - [`errors`]: the error table below, as code.
//! - [`sim`]: the HTTP/2-only simulator (`/sim/apns/3/device/{token}`).
//!
//! ## Request
//! `POST {endpoint}/3/device/<receiver>`, headers `authorization: bearer <jwt>`,
//! `apns-topic` (config `topic`), `apns-push-type` (config `push_type`, default `alert`),
//! `apns-priority` (config `priority`, default 10), `apns-expiration` (now + config
//! `expiration_secs`, only when set), `apns-collapse-id` (template field `collapse_id`),
//! `apns-id` = a UUID derived from the delivery id, the same on every retry. Body
//! `{"aps": {"alert": {"title"?, "body"}, "sound"?, "badge"?, "category"?, "thread-id"?},
//! <other template fields as top-level keys>}`.
//!
//! ## Error table
//! | APNs answer | outcome | code | notes |
//! |---|---|---|---|
//! | 200 | `Delivered` | — | provider id = response `apns-id` |
//! | 410 `Unregistered` | `Permanent` | `unregistered` | token marked dead: later sends fail fast |
//! | 403 `ExpiredProviderToken` / `InvalidProviderToken` / `MissingProviderToken` | `TokenExpired` | snake-case reason | the cached JWT is dropped; `refresh_token` signs a new one |
//! | 400 `BadDeviceToken`, `DeviceTokenNotForTopic`, `BadTopic`, `MissingTopic`, … | `Permanent` | snake-case reason | |
//! | 403 other (`BadCertificate`, `Forbidden`, …) | `Permanent` | snake-case reason | |
//! | 413 `PayloadTooLarge` | `Permanent` | `payload_too_large` | |
//! | 429 `TooManyRequests`, `TooManyProviderTokenUpdates` | `Retryable` | snake-case reason | `Retry-After` when sent |
//! | 500 `InternalServerError`, 503 `ServiceUnavailable` / `Shutdown`, other 5xx | `Retryable` | snake-case reason or `http_<status>` | |
//! | connection refused / DNS | `Retryable` | `connect` | |
//! | timeout, broken connection | `Unknown` | `timeout` / `io` | |
//! | bad config or secret (key not PEM P-256) | `Permanent` | `config_invalid` | |

pub mod client;
pub mod errors;
pub mod jwt;
pub mod sim;

pub use client::ApnsChannel;
