//! The delivery lifecycle and the version that orders state changes.
//!
//! `accepted → scheduled? → sending → sent → delivered`, with `retrying` and `unknown` in
//! between and the terminals `delivered | failed | filtered | expired | dead | canceled`.
//!
//! Events can arrive out of order (redelivery, parallel consumers, receipts racing the send
//! result, clock skew between nodes), so wall-clock time cannot order them. An
//! [`EventVersion`] is `(seq, rank)`: `seq` is the attempt number that produced the event
//! (it only grows, also across dead-letter replays) and `rank` the state's position in the
//! lifecycle. A stored state is replaced only by a strictly greater version.

use serde::{Deserialize, Serialize};
use std::fmt;

/// State of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Accepted,
    Scheduled,
    Sending,
    Retrying,
    Unknown,
    Sent,
    Delivered,
    Failed,
    Filtered,
    Expired,
    Dead,
    Canceled,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 12] = [
        Self::Accepted,
        Self::Scheduled,
        Self::Sending,
        Self::Retrying,
        Self::Unknown,
        Self::Sent,
        Self::Delivered,
        Self::Failed,
        Self::Filtered,
        Self::Expired,
        Self::Dead,
        Self::Canceled,
    ];

    /// Position in the lifecycle; all terminals share the top rank, so within one attempt the
    /// first terminal recorded wins.
    pub fn rank(self) -> u8 {
        match self {
            Self::Accepted => 0,
            Self::Scheduled => 1,
            Self::Sending => 2,
            Self::Retrying => 3,
            Self::Unknown => 4,
            Self::Sent => 5,
            Self::Delivered
            | Self::Failed
            | Self::Filtered
            | Self::Expired
            | Self::Dead
            | Self::Canceled => 7,
        }
    }

    pub fn is_terminal(self) -> bool {
        self.rank() == 7
    }

    /// Whether a delivery in this state may still be canceled (nothing handed to a provider).
    pub fn is_cancelable(self) -> bool {
        matches!(self, Self::Accepted | Self::Scheduled | Self::Retrying)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Scheduled => "scheduled",
            Self::Sending => "sending",
            Self::Retrying => "retrying",
            Self::Unknown => "unknown",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Filtered => "filtered",
            Self::Expired => "expired",
            Self::Dead => "dead",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Orders events of one delivery: `(seq, rank)` compared lexicographically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventVersion {
    pub seq: u32,
    pub rank: u8,
}

impl EventVersion {
    pub fn new(seq: u32, state: DeliveryState) -> Self {
        Self {
            seq,
            rank: state.rank(),
        }
    }

    /// A single integer with the same order, for stores with numeric versions
    /// (Elasticsearch external versioning, SQL columns).
    pub fn as_u64(self) -> u64 {
        (u64::from(self.seq) << 8) | u64::from(self.rank)
    }

    pub fn from_u64(v: u64) -> Self {
        Self {
            seq: (v >> 8) as u32,
            rank: (v & 0xff) as u8,
        }
    }
}

/// A message's status, derived from its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Accepted,
    Scheduled,
    InProgress,
    Delivered,
    PartiallyDelivered,
    Failed,
    Canceled,
    Expired,
}

impl MessageStatus {
    pub fn derive(states: impl IntoIterator<Item = DeliveryState>) -> Self {
        let states: Vec<DeliveryState> = states.into_iter().collect();
        let all = |s: DeliveryState| !states.is_empty() && states.iter().all(|x| *x == s);
        if states.iter().any(|s| !s.is_terminal()) {
            if all(DeliveryState::Accepted) {
                Self::Accepted
            } else if all(DeliveryState::Scheduled) {
                Self::Scheduled
            } else {
                Self::InProgress
            }
        } else if all(DeliveryState::Delivered) {
            Self::Delivered
        } else if states.contains(&DeliveryState::Delivered) {
            Self::PartiallyDelivered
        } else if all(DeliveryState::Canceled) {
            Self::Canceled
        } else if all(DeliveryState::Expired) {
            Self::Expired
        } else {
            Self::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryState::*;

    #[test]
    fn versions_order_by_attempt_then_rank() {
        let sent1 = EventVersion::new(1, Sent);
        let delivered1 = EventVersion::new(1, Delivered);
        let retrying1 = EventVersion::new(1, Retrying);
        let retrying2 = EventVersion::new(2, Retrying);
        let dead2 = EventVersion::new(2, Dead);
        let delivered3 = EventVersion::new(3, Delivered);
        assert!(retrying1 < sent1 && sent1 < delivered1);
        assert!(delivered1 < retrying2, "a later attempt wins");
        assert!(dead2 < delivered3, "a replay after dead wins");
        assert_eq!(
            EventVersion::new(1, Delivered),
            EventVersion::new(1, Failed)
        );
        for v in [sent1, delivered1, dead2, delivered3] {
            assert_eq!(EventVersion::from_u64(v.as_u64()), v);
            assert!(v.as_u64() < delivered3.as_u64() || v == delivered3);
        }
    }

    #[test]
    fn message_status_is_derived() {
        assert_eq!(
            MessageStatus::derive([Delivered, Delivered]),
            MessageStatus::Delivered
        );
        assert_eq!(
            MessageStatus::derive([Delivered, Failed]),
            MessageStatus::PartiallyDelivered
        );
        assert_eq!(
            MessageStatus::derive([Accepted, Sent]),
            MessageStatus::InProgress
        );
        assert_eq!(MessageStatus::derive([Accepted]), MessageStatus::Accepted);
        assert_eq!(
            MessageStatus::derive([Canceled, Canceled]),
            MessageStatus::Canceled
        );
        assert_eq!(MessageStatus::derive([Dead]), MessageStatus::Failed);
    }
}
