//! Rate limiter conformance: what the provider counts, per wall-clock second, stays within
//! the limit even when the process stalls.

use crate::RateLimiter;
use crate::rate::wall_ns;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// 250 callers of one key at 100/s while the process stalls for 300 ms across a clock
/// second's boundary (from `x.85` s). Every caller records when its permit came; no clock
/// second may see more than the limit. A limiter that lets every caller whose slot passed
/// during the stall go at once sends the whole stall's worth into the next second.
///
/// Run it on a current-thread runtime (`#[tokio::test]`): the stall is a blocking sleep, which
/// must hold up the limiter's timers.
pub async fn a_stall_never_bursts_into_the_next_second(limiter: Arc<dyn RateLimiter>) {
    const LIMIT: u32 = 100;
    let key = format!("stall-{:x}", rand_suffix());
    let callers: Vec<_> = (0..250)
        .map(|_| {
            let (limiter, key) = (limiter.clone(), key.clone());
            tokio::spawn(async move {
                limiter.acquire(&key, LIMIT).await;
                wall_ns()
            })
        })
        .collect();
    // Let the schedule run half a second, then stall from the next x.85 s for 300 ms.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let into_second = wall_ns().rem_euclid(1_000_000_000);
    let until_stall = (850_000_000 - into_second).rem_euclid(1_000_000_000);
    tokio::time::sleep(Duration::from_nanos(until_stall as u64)).await;
    std::thread::sleep(Duration::from_millis(300));
    let mut per_second: BTreeMap<i64, u32> = BTreeMap::new();
    for caller in callers {
        let at = caller.await.expect("caller panicked");
        *per_second.entry(at.div_euclid(1_000_000_000)).or_default() += 1;
    }
    let over: Vec<_> = per_second.iter().filter(|(_, n)| **n > LIMIT).collect();
    assert!(
        over.is_empty(),
        "seconds over {LIMIT}/s after a stall: {over:?} (all: {per_second:?})"
    );
}

fn rand_suffix() -> u64 {
    wall_ns() as u64 ^ u64::from(std::process::id()).rotate_left(32)
}
