//! Tenancy: apps and their API keys.
//!
//! An app owns templates, accounts and messages; an API key authenticates as exactly one app.
//! Key secrets are never stored: only a SHA-256 hash (keys are long random strings, so a fast
//! hash is sufficient and keeps authentication off the hot path's CPU budget).

use crate::ids::{ApiKeyId, AppId};
use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub id: AppId,
    pub name: String,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub created_at: Millis,
}

/// A stored API key: its id, its app and the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub app_id: AppId,
    pub name: String,
    /// Lowercase hex SHA-256 of the full key string.
    pub hash: String,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub created_at: Millis,
}
