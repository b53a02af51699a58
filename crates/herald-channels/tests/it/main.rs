//! Integration tests: the real `WebhookChannel` against the webhook simulator served on
//! `127.0.0.1:0`, plus raw HTTP calls for what a well-behaved client never sends.

mod channel;
mod simulator;
mod support;
