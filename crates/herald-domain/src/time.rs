//! Time as integer milliseconds since the Unix epoch: what queues, records and versions store.
//!
//! A plain `i64` keeps envelopes compact and comparisons cheap; conversions to RFC 3339
//! happen only at the API edge.

use chrono::{DateTime, TimeZone, Utc};

/// Milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

/// The current wall-clock time in milliseconds.
pub fn now_ms() -> Millis {
    Utc::now().timestamp_millis()
}

/// Formats milliseconds as RFC 3339 UTC with millisecond precision.
pub fn to_rfc3339(ms: Millis) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Parses an RFC 3339 timestamp that carries an explicit offset (`Z` or `±hh:mm`).
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Serde for millisecond timestamps shown as RFC 3339 strings at the edges (API JSON):
/// serializes `2026-11-24T12:00:00.000Z`, accepts that or integer milliseconds.
pub mod rfc3339_millis {
    use super::{Millis, parse_rfc3339, to_rfc3339};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_rfc3339(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Millis(Millis),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Millis(ms) => Ok(ms),
            Either::Text(t) => parse_rfc3339(&t)
                .ok_or_else(|| serde::de::Error::custom(format!("{t:?} is not RFC 3339"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct At {
        #[serde(with = "rfc3339_millis")]
        at: Millis,
    }

    #[test]
    fn timestamps_are_rfc3339_on_the_wire_and_read_back_either_way() {
        let json = serde_json::to_string(&At {
            at: 1_764_000_000_123,
        })
        .unwrap();
        assert_eq!(json, r#"{"at":"2025-11-24T16:00:00.123Z"}"#);
        assert_eq!(
            serde_json::from_str::<At>(&json).unwrap().at,
            1_764_000_000_123
        );
        assert_eq!(serde_json::from_str::<At>(r#"{"at":5}"#).unwrap().at, 5);
        assert!(serde_json::from_str::<At>(r#"{"at":"yesterday"}"#).is_err());
    }
}
