//! Prefixed, time-sortable identifiers (`msg_01J…`, `dlv_01J…`).
//!
//! The prefix makes logs and support tickets readable; the ULID body sorts by creation time,
//! which the records store uses for cursors and the queue for fairness.

use serde::{Deserialize, Serialize};
use std::fmt;

/// `prefix` followed by `ulid` in lower case, in one allocation (ids are made per delivery:
/// a batch of 1,000 receivers makes 1,000 of them).
fn prefixed(prefix: &str, ulid: ulid::Ulid) -> String {
    let mut body = [0u8; ulid::ULID_LEN];
    let body = ulid.array_to_str(&mut body);
    body.make_ascii_lowercase();
    let mut out = String::with_capacity(prefix.len() + body.len());
    out.push_str(prefix);
    out.push_str(body);
    out
}

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
                Self(prefixed(concat!($prefix, "_"), ulid::Ulid::new()))
            }

            /// A fresh id whose time part is `ms` (milliseconds since the epoch): for ids made
            /// together, e.g. every delivery of one accept, without reading the clock for each.
            pub fn generate_at(ms: i64) -> Self {
                let ulid = ulid::Ulid::from_parts(ms.max(0) as u64, rand::random::<u128>());
                Self(prefixed(concat!($prefix, "_"), ulid))
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

    #[test]
    fn ids_made_together_share_the_time_and_differ() {
        let ms = 1_765_000_000_123;
        let a = DeliveryId::generate_at(ms);
        let b = DeliveryId::generate_at(ms);
        assert_ne!(a, b);
        for id in [&a, &b] {
            let body = id.as_str().strip_prefix("dlv_").unwrap();
            assert_eq!(body, body.to_ascii_lowercase());
            let ulid = ulid::Ulid::from_string(&body.to_ascii_uppercase()).unwrap();
            assert_eq!(ulid.timestamp_ms(), ms as u64);
            assert_eq!(DeliveryId::parse(id.as_str()).as_ref(), Some(id));
        }
        assert!(DeliveryId::generate_at(ms) < DeliveryId::generate_at(ms + 1));
    }
}
