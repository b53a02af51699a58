//! Templates and their immutable versions.
//!
//! Editing a template creates a new version; an accepted message pins the version it was
//! validated against, so later edits never break messages already in the queue.

use crate::channel::ChannelKind;
use crate::ids::{AccountId, AppId, TemplateId};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A declared template variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableSpec {
    pub name: String,
    /// Sensitive values (codes, tokens) are masked in records, search and logs.
    #[serde(default)]
    pub sensitive: bool,
}

/// The templated parts of a message; every string is a minijinja template.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TemplateContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub body: String,
    /// Provider-specific fields (e.g. Aliyun `template_code`, WeChat `template_id`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

/// A template's mutable head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub id: TemplateId,
    pub app_id: AppId,
    pub name: String,
    pub channel: ChannelKind,
    pub default_account_id: Option<AccountId>,
    pub enabled: bool,
    pub current_version: u32,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub created_at: Millis,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub updated_at: Millis,
}

/// One immutable version of a template's content and variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateVersion {
    pub template_id: TemplateId,
    pub version: u32,
    pub variables: Vec<VariableSpec>,
    pub content: TemplateContent,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub created_at: Millis,
}

impl TemplateVersion {
    pub fn is_sensitive(&self, name: &str) -> bool {
        self.variables.iter().any(|v| v.sensitive && v.name == name)
    }

    pub fn has_sensitive(&self) -> bool {
        self.variables.iter().any(|v| v.sensitive)
    }
}
