//! Integration tests: the real push clients against their simulators served on
//! `127.0.0.1:0` (HTTP/1.1 and h2c), plus raw HTTP calls for what a well-behaved client never
//! sends.

mod apns;
mod fcm;
mod getui;
mod jpush;
mod support;
