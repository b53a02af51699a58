//! A small read-through cache with a time-to-live, for catalog rows on the hot path
//! (API keys, templates, accounts). Local writes invalidate at once; other nodes' writes are
//! seen within the TTL.

use parking_lot::RwLock;
use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: RwLock<HashMap<K, (Instant, V)>>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// `ttl = Duration::MAX` keeps entries until invalidated (immutable data).
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let map = self.entries.read();
        let (at, v) = map.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        let mut map = self.entries.write();
        if map.len() >= self.capacity {
            let ttl = self.ttl;
            map.retain(|_, (at, _)| at.elapsed() < ttl);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(key, (Instant::now(), value));
    }

    pub fn invalidate(&self, key: &K) {
        self.entries.write().remove(key);
    }

    pub fn clear(&self) {
        self.entries.write().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_and_invalidates() {
        let c = TtlCache::new(Duration::from_millis(30), 2);
        c.insert("a", 1);
        assert_eq!(c.get(&"a"), Some(1));
        c.invalidate(&"a");
        assert_eq!(c.get(&"a"), None);
        c.insert("b", 2);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get(&"b"), None);
        c.insert("c", 3);
        c.insert("d", 4);
        c.insert("e", 5);
        assert_eq!(c.get(&"e"), Some(5));
    }
}
