//! Access tokens as the simulators issue and check them, for WeChat (appid) and WeCom
//! (corpid) alike.
//!
//! Two slots per owner, as WeChat has two token APIs that do not affect each other:
//! [`Slot::Stable`] (`/cgi-bin/stable_token`, and WeCom's `gettoken`) hands out the current
//! token until it is near expiry; [`Slot::Latest`] (`/cgi-bin/token`) issues a new token on
//! every call and revokes the previous one after an overlap.

use parking_lot::Mutex;
use rand::Rng;
use std::collections::HashMap;

/// Prefix of every simulated token (anything else is malformed).
const PREFIX: &str = "simtok_";
/// Random hex digits after the prefix.
const RANDOM_HEX: usize = 48;
/// Issued tokens are forgotten this long after they stopped working (then they read as
/// never issued, like a real provider forgets them).
const FORGET_AFTER_MS: i64 = 3_600_000;

/// How [`SimTokens::issue`] treats the current token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueRule {
    /// Lifetime of a new token.
    pub ttl_ms: i64,
    /// A current token with less than this left is replaced.
    pub renew_before_ms: i64,
    /// Always issue a new token.
    pub force: bool,
    /// How long a replaced token keeps working.
    pub overlap_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Stable,
    Latest,
}

/// What a presented token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    /// Valid, issued to this owner.
    Valid(String),
    Missing,
    /// Not something this provider issues.
    Malformed,
    /// Well-formed but unknown or revoked.
    Invalid,
    Expired,
}

#[derive(Debug)]
struct Issued {
    owner: String,
    expires_at: i64,
    revoked_at: Option<i64>,
}

#[derive(Debug, Default)]
struct Tables {
    by_value: HashMap<String, Issued>,
    current: HashMap<(String, Slot), String>,
    issued: HashMap<String, u64>,
}

/// Issued tokens of one simulator.
#[derive(Debug, Default)]
pub struct SimTokens {
    tables: Mutex<Tables>,
}

impl SimTokens {
    /// The owner's current token in `slot` when it has more than `rule.renew_before_ms` left
    /// and `rule.force` is false; otherwise a new one (when forced, the previous one is
    /// revoked at `now + rule.overlap_ms`). Returns the token and its remaining lifetime in seconds.
    pub fn issue(&self, owner: &str, slot: Slot, now: i64, rule: IssueRule) -> (String, i64) {
        let IssueRule {
            ttl_ms,
            renew_before_ms,
            force,
            overlap_ms,
        } = rule;
        let mut tables = self.tables.lock();
        let key = (owner.to_owned(), slot);
        if !force
            && let Some(value) = tables.current.get(&key)
            && let Some(issued) = tables.by_value.get(value)
            && issued.revoked_at.is_none()
            && issued.expires_at - now > renew_before_ms
        {
            return (value.clone(), (issued.expires_at - now) / 1000);
        }
        tables.by_value.retain(|_, t| {
            t.revoked_at.unwrap_or(t.expires_at).min(t.expires_at) > now - FORGET_AFTER_MS
        });
        // A forced token revokes its predecessor (after the overlap); a renewal near
        // expiry leaves it to expire on its own.
        if force
            && let Some(previous) = tables.current.get(&key).cloned()
            && let Some(old) = tables.by_value.get_mut(&previous)
        {
            old.revoked_at = Some(now + overlap_ms);
        }
        let mut rng = rand::rng();
        let random: String = (0..RANDOM_HEX)
            .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
            .collect();
        let value = format!("{PREFIX}{random}");
        tables.by_value.insert(
            value.clone(),
            Issued {
                owner: owner.to_owned(),
                expires_at: now + ttl_ms,
                revoked_at: None,
            },
        );
        tables.current.insert(key, value.clone());
        *tables.issued.entry(owner.to_owned()).or_default() += 1;
        (value, ttl_ms / 1000)
    }

    /// Checks a presented token at `now`.
    pub fn check(&self, token: Option<&str>, now: i64) -> TokenCheck {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return TokenCheck::Missing;
        };
        let well_formed = token.strip_prefix(PREFIX).is_some_and(|hex| {
            hex.len() == RANDOM_HEX && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if !well_formed {
            return TokenCheck::Malformed;
        }
        let tables = self.tables.lock();
        match tables.by_value.get(token) {
            None => TokenCheck::Invalid,
            Some(t) if t.revoked_at.is_some_and(|at| at <= now) => TokenCheck::Invalid,
            Some(t) if t.expires_at <= now => TokenCheck::Expired,
            Some(t) => TokenCheck::Valid(t.owner.clone()),
        }
    }

    /// Revokes every token of `owner` at once (an operator resetting the secret).
    pub fn revoke_all(&self, owner: &str, now: i64) {
        let mut tables = self.tables.lock();
        for issued in tables.by_value.values_mut().filter(|t| t.owner == owner) {
            issued.revoked_at = Some(now);
        }
    }

    /// Tokens issued to `owner` so far.
    pub fn issued(&self, owner: &str) -> u64 {
        self.tables.lock().issued.get(owner).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STABLE: IssueRule = IssueRule {
        ttl_ms: 7_200_000,
        renew_before_ms: 300_000,
        force: false,
        overlap_ms: 0,
    };
    const LATEST: IssueRule = IssueRule {
        ttl_ms: 7_200_000,
        renew_before_ms: 0,
        force: true,
        overlap_ms: 300_000,
    };

    #[test]
    fn stable_tokens_repeat_and_latest_tokens_replace() {
        let tokens = SimTokens::default();
        let (a, left) = tokens.issue("wx1", Slot::Stable, 0, STABLE);
        assert_eq!(left, 7200);
        let (b, _) = tokens.issue("wx1", Slot::Stable, 1000, STABLE);
        assert_eq!(a, b, "the same stable token until its last minutes");
        let (c, _) = tokens.issue("wx1", Slot::Stable, 6_950_000, STABLE);
        assert_ne!(a, c, "renewed in the last five minutes");
        assert_eq!(
            tokens.check(Some(&a), 7_000_000),
            TokenCheck::Valid("wx1".into())
        );
        assert_eq!(tokens.check(Some(&a), 7_200_000), TokenCheck::Expired);

        let (l1, _) = tokens.issue("wx1", Slot::Latest, 0, LATEST);
        let (l2, _) = tokens.issue("wx1", Slot::Latest, 10, LATEST);
        assert_ne!(l1, l2);
        assert_eq!(
            tokens.check(Some(&l1), 100),
            TokenCheck::Valid("wx1".into()),
            "overlap"
        );
        assert_eq!(tokens.check(Some(&l1), 300_010), TokenCheck::Invalid);
        assert_eq!(
            tokens.check(Some(&c), 300_010),
            TokenCheck::Valid("wx1".into()),
            "slots are isolated"
        );
        assert_eq!(tokens.issued("wx1"), 4);
    }

    #[test]
    fn malformed_missing_and_revoked_tokens() {
        let tokens = SimTokens::default();
        assert_eq!(tokens.check(None, 0), TokenCheck::Missing);
        assert_eq!(tokens.check(Some("abc"), 0), TokenCheck::Malformed);
        let fake = format!("{PREFIX}{}", "0".repeat(RANDOM_HEX));
        assert_eq!(tokens.check(Some(&fake), 0), TokenCheck::Invalid);
        let (t, _) = tokens.issue(
            "corp",
            Slot::Stable,
            0,
            IssueRule {
                ttl_ms: 1000,
                ..STABLE
            },
        );
        tokens.revoke_all("corp", 5);
        assert_eq!(tokens.check(Some(&t), 5), TokenCheck::Invalid);
    }
}
