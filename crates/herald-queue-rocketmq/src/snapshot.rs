//! Census snapshots, so a starting node does not fold the whole ledger and dead letters
//! outlive the broker's commit-log retention.
//!
//! A snapshot is the census as folded up to a ledger offset (`as_of`), written as JSON to
//! the snapshot topic (one queue) in parts of at most [`PART_BYTES`] (the broker refuses
//! messages over 4 MiB). Each part carries a header line — snapshot id, part number, part
//! count, `as_of` — then its bytes. Nodes write snapshots on their own schedule, so parts of
//! two snapshots may interleave, and a node that dies mid-way leaves a partial one: the
//! reader takes the newest snapshot whose parts are all present among the last messages of
//! the queue, and otherwise folds the ledger from its start.

use crate::census::{Census, DeadRecord, QueueRef, TopicName};
use herald_domain::{AppId, DeliveryId, Millis, TaskEnvelope};
use herald_ports::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Largest part body (header excluded).
pub(crate) const PART_BYTES: usize = 1 << 20;

/// The census in a serializable shape.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Image {
    pub live: Vec<LiveImage>,
    pub tombstones: Vec<String>,
    pub dead: Vec<DeadRecord>,
    pub claimed: Vec<(QueueRef, u64)>,
}

/// One live task of the census.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct LiveImage {
    pub key: String,
    pub topic: TopicName,
    pub app: AppId,
    pub delivery: DeliveryId,
    pub leased_until: Millis,
    pub deliveries: u32,
    pub held: Option<TaskEnvelope>,
    pub deferred: bool,
}

/// The header line of a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PartHeader {
    id: String,
    part: usize,
    parts: usize,
    as_of: u64,
}

/// Splits a census image folded up to `as_of` into message bodies, in order.
pub(crate) fn encode(census: &Census, as_of: u64) -> Result<Vec<Vec<u8>>, StoreError> {
    let json = serde_json::to_vec(&census.image())
        .map_err(|e| StoreError::backend("encoding a RocketMQ census snapshot", e))?;
    let chunks: Vec<&[u8]> = if json.is_empty() {
        vec![&[]]
    } else {
        json.chunks(PART_BYTES).collect()
    };
    let id = format!("{:016x}", rand::random::<u64>());
    let parts = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(part, chunk)| {
            let header = PartHeader {
                id: id.clone(),
                part,
                parts,
                as_of,
            };
            let mut body = serde_json::to_vec(&header)
                .map_err(|e| StoreError::backend("encoding a RocketMQ snapshot part", e))?;
            body.push(b'\n');
            body.extend_from_slice(chunk);
            Ok(body)
        })
        .collect()
}

/// The newest complete snapshot among `bodies` (message bodies in offset order): the
/// census and the ledger offset to fold on from. Bodies that are not snapshot parts are
/// skipped.
pub(crate) fn decode_newest(bodies: &[Vec<u8>]) -> Option<(Census, u64)> {
    let mut parts: HashMap<String, Vec<(PartHeader, &[u8])>> = HashMap::new();
    let mut order = Vec::new();
    for body in bodies {
        let Some(split) = body.iter().position(|&b| b == b'\n') else {
            continue;
        };
        let Ok(header) = serde_json::from_slice::<PartHeader>(&body[..split]) else {
            continue;
        };
        if !parts.contains_key(&header.id) {
            order.push(header.id.clone());
        }
        parts
            .entry(header.id.clone())
            .or_default()
            .push((header, &body[split + 1..]));
    }
    // Newest first: the snapshot whose first part was stored last.
    for id in order.iter().rev() {
        let mut found = parts.remove(id).unwrap_or_default();
        found.sort_by_key(|(h, _)| h.part);
        found.dedup_by_key(|(h, _)| h.part);
        let complete = found.first().is_some_and(|(h, _)| found.len() == h.parts)
            && found.iter().enumerate().all(|(i, (h, _))| h.part == i);
        if !complete {
            continue;
        }
        let as_of = found[0].0.as_of;
        let json: Vec<u8> = found.iter().flat_map(|(_, c)| c.iter().copied()).collect();
        match serde_json::from_slice::<Image>(&json) {
            Ok(image) => return Some((Census::restore(image), as_of)),
            Err(e) => {
                tracing::warn!(%id, error = %e, "skipping a census snapshot that does not decode")
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::{Change, Entry, TaskRef};
    use herald_domain::Priority;
    use herald_ports::Topic;
    use herald_ports::conformance::queue::delivery_task;

    fn census_with(tasks: usize) -> Census {
        let app = AppId::generate();
        let mut census = Census::default();
        let published = (0..tasks)
            .map(|_| TaskRef::of(Topic::Send, &delivery_task(&app, Priority::Normal, 0)))
            .collect();
        let entry = Entry {
            at: 1,
            node: "n".into(),
            change: Change::Published { tasks: published },
        };
        census.apply(0, entry, "n");
        census
    }

    #[test]
    fn a_snapshot_round_trips_through_parts() {
        let census = census_with(12_000);
        let bodies = encode(&census, 42).unwrap();
        assert!(bodies.len() > 1, "12,000 tasks need several parts");
        let (restored, as_of) = decode_newest(&bodies).expect("a complete snapshot");
        assert_eq!(as_of, 42);
        assert_eq!(restored.depths(0), census.depths(0));
    }

    #[test]
    fn the_newest_complete_snapshot_wins_over_partial_and_interleaved_ones() {
        let older = encode(&census_with(1), 10).unwrap();
        let newer = encode(&census_with(2), 20).unwrap();
        let partial = encode(&census_with(12_000), 30).unwrap();
        let mut bodies = older.clone();
        bodies.extend(newer.clone());
        bodies.push(partial[0].clone());
        bodies.push(b"not a snapshot".to_vec());
        let (restored, as_of) = decode_newest(&bodies).expect("a complete snapshot");
        assert_eq!((as_of, restored.depths(0).send), (20, 2));

        let big_a = encode(&census_with(12_000), 50).unwrap();
        let big_b = encode(&census_with(13_000), 60).unwrap();
        let mut interleaved = Vec::new();
        for (a, b) in big_a.iter().zip(&big_b) {
            interleaved.push(a.clone());
            interleaved.push(b.clone());
        }
        interleaved.extend(big_b.iter().skip(big_a.len()).cloned());
        let (restored, as_of) = decode_newest(&interleaved).expect("a complete snapshot");
        assert_eq!((as_of, restored.depths(0).send), (60, 13_000));
        assert!(
            decode_newest(&partial[..1]).is_none(),
            "a partial snapshot is ignored"
        );
    }
}
