//! Firebase Cloud Messaging, HTTP v1 API.
//!
//! - [`client`]: [`FcmChannel`], one `messages:send` per delivery.
//! - [`oauth`]: the service-account RS256 assertion and its exchange for a Bearer token,
//!   cached through [`TokenSource`](herald_channels::token::TokenSource) under
//!   `fcm:<client_email>` for the token's lifetime (refreshed 5 min before expiry).
//! - [`errors`]: the error table below, as code.
//! - [`sim`]: the simulator (`/sim/fcm/token`, `/sim/fcm/v1/projects/{p}/messages:send`).
//!
//! ## Request
//! `POST {endpoint}/v1/projects/{project}/messages:send`, `Authorization: Bearer <token>`,
//! body `{"message": {"token": <receiver>, "notification": {"title"?, "body"}, "data"?:
//! {<template fields>}}}`. FCM has no idempotency key: a resend after `Unknown` may notify
//! twice, so timeouts stay `Unknown`. Push has no delivery receipts: success is `Delivered`
//! with the provider id = the answer's `name` (`projects/p/messages/…`).
//!
//! ## Error table
//! | FCM answer | outcome | code | notes |
//! |---|---|---|---|
//! | 200 | `Delivered` | — | provider id = `name` |
//! | 404 `UNREGISTERED` | `Permanent` | `unregistered` | token marked dead: later sends fail fast without a call |
//! | 400 `INVALID_ARGUMENT` | `Permanent` | `invalid_argument` | includes malformed registration tokens |
//! | 403 `SENDER_ID_MISMATCH` | `Permanent` | `sender_id_mismatch` | token belongs to another project |
//! | 401 `THIRD_PARTY_AUTH_ERROR` | `Permanent` | `third_party_auth_error` | APNs/web push credentials in Firebase are wrong |
//! | 403 `PERMISSION_DENIED` | `Permanent` | `permission_denied` | the service account may not send for this project |
//! | 401 `UNAUTHENTICATED` (any other 401) | `TokenExpired` | `unauthenticated` | the cached OAuth token is dropped; `refresh_token` fetches a new one |
//! | 429 `QUOTA_EXCEEDED` / `RESOURCE_EXHAUSTED` | `Retryable` | `quota_exceeded` | `Retry-After` honoured |
//! | 503 `UNAVAILABLE`, 500 `INTERNAL` | `Retryable` | `unavailable` / `internal` | `Retry-After` honoured when sent |
//! | other 408/429/5xx | `Retryable` | error name or `http_<status>` | |
//! | other 4xx | `Permanent` | error name or `http_<status>` | |
//! | token endpoint 4xx (`invalid_grant`, …) | `Permanent` | `credentials_rejected` | fix the service account |
//! | token endpoint 5xx / unreachable | `Retryable` | `token_unavailable` | the message was not sent |
//! | connection refused / DNS | `Retryable` | `connect` | |
//! | timeout, broken connection | `Unknown` | `timeout` / `io` | never resent blindly |
//! | bad config or secret | `Permanent` | `config_invalid` | |

pub mod client;
pub mod errors;
pub mod oauth;
pub mod sim;

pub use client::FcmChannel;
