//! The opaque search cursor: the last hit's `seq` (which encodes its `created_at`) in a
//! versioned token.

use herald_ports::StoreError;

/// A `seq` as an opaque token (`c1` marks the format version).
pub(super) fn encode(seq: i64) -> String {
    format!("c1{:x}", seq as u64)
}

/// The key a cursor stands for. A token not made by [`encode`] is `InvalidInput` (the port has
/// no "invalid input" error; callers that want a 400 should treat it so).
pub(super) fn decode(cursor: &str) -> Result<i64, StoreError> {
    let invalid = || StoreError::InvalidInput(format!("invalid search cursor {cursor:?}"));
    let seq = cursor.strip_prefix("c1").ok_or_else(invalid)?;
    let seq = u64::from_str_radix(seq, 16).map_err(|_| invalid())?;
    i64::try_from(seq).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let seq = (1_767_225_600_000 << 20) | 42;
        assert_eq!(decode(&encode(seq)).unwrap(), seq);
        assert!(decode("nonsense").is_err());
        assert!(decode("c1zz").is_err());
        assert!(decode("c1").is_err());
        assert!(decode("c1ffffffffffffffff").is_err());
    }
}
