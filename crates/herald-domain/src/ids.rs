//! Prefixed, time-sortable identifiers (`msg_01J…`, `dlv_01J…`).
//!
//! The prefix makes logs and support tickets readable; the ULID body sorts by creation time,
//! which the records store uses for cursors and the queue for fairness.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id, sortable by creation time.
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, ulid::Ulid::new().to_string().to_ascii_lowercase()))
            }

            /// Accepts a string only if it carries this kind's prefix and a ULID body.
            pub fn parse(s: &str) -> Option<Self> {
                let body = s.strip_prefix($prefix)?.strip_prefix('_')?;
                ulid::Ulid::from_string(&body.to_ascii_uppercase()).ok()?;
                Some(Self(s.to_owned()))
            }

            /// Wraps a stored value without checking it (for rows read back from storage).
            pub fn from_trusted(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

prefixed_id!(/// A tenant: every row, key and queue task carries one.
    AppId, "app");
prefixed_id!(/// An API key's public id (the secret part is only ever stored hashed).
    ApiKeyId, "key");
prefixed_id!(/// A template (its versions are numbered under it).
    TemplateId, "tpl");
prefixed_id!(/// A channel account: provider credentials, rate limit and retry schedule.
    AccountId, "acc");
prefixed_id!(/// One accepted send call (one or many receivers).
    MessageId, "msg");
prefixed_id!(/// One receiver of a message: the unit that is queued, sent and tracked.
    DeliveryId, "dlv");
prefixed_id!(/// An entry in the dead-letter store.
    DeadLetterId, "dead");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_prefix_and_sort_by_time() {
        let a = MessageId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = MessageId::generate();
        assert!(a.as_str().starts_with("msg_"));
        assert!(a < b, "{a} should sort before {b}");
        assert_eq!(MessageId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(MessageId::parse("dlv_01j0000000000000000000000"), None);
        assert_eq!(MessageId::parse("msg_notaulid"), None);
    }
}
