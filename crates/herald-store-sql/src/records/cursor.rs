//! The opaque search cursor: the last hit's `(created_at, seq)` in a versioned token.

use herald_ports::StoreError;

/// Where a page ended: the next page holds rows strictly before this key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PageKey {
    pub created_at: i64,
    pub seq: i64,
}

/// `s1<created_at hex>.<seq hex>` (`s1` marks the format; SQLite's `c1` cursors are not
/// accepted here, nor these there).
pub(super) fn encode(key: PageKey) -> String {
    format!("s1{:x}.{:x}", key.created_at as u64, key.seq as u64)
}

/// The key a cursor stands for; a token not made by [`encode`] is `InvalidInput`.
pub(super) fn decode(cursor: &str) -> Result<PageKey, StoreError> {
    let invalid = || StoreError::InvalidInput(format!("invalid search cursor {cursor:?}"));
    let body = cursor.strip_prefix("s1").ok_or_else(invalid)?;
    let (created_at, seq) = body.split_once('.').ok_or_else(invalid)?;
    let number = |s: &str| {
        u64::from_str_radix(s, 16)
            .ok()
            .and_then(|v| i64::try_from(v).ok())
            .ok_or_else(invalid)
    };
    Ok(PageKey {
        created_at: number(created_at)?,
        seq: number(seq)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let key = PageKey {
            created_at: 1_767_225_600_000,
            seq: 42,
        };
        assert_eq!(decode(&encode(key)).unwrap(), key);
        for bad in ["", "s1", "s1zz.1", "s11", "c1ff", "s1ffffffffffffffff.1"] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}
