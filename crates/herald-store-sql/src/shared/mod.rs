//! State the nodes of a cluster share through the database, so the promises the embedded
//! default keeps in one process hold cluster-wide: each channel account's rate limit
//! ([`SqlRateLimiter`]) and provider access tokens ([`SqlTokenCache`]). Decision 0009.

mod rate;
mod token;

pub use rate::{BLOCK, SqlRateLimiter};
pub use token::{SqlTokenCache, TokenSealer};
