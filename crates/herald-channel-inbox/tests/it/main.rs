//! Integration tests of the inbox crate: the channel into SQLite, the end-user API over a
//! real socket (reqwest), tokens, and the SSE stream.

mod api;
mod channel;
mod stream;
mod support;
mod token;
