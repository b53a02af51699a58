//! Waiting for the cluster: the first partition assignment, the views catching up (to the
//! topics' end, or to this node's own writes), and the workers' windows catching up before
//! a cancel counts. End offsets come from the broker, raised to what this node's own writes
//! and fetches prove.

use crate::admin::end_offsets;
use crate::queue::KafkaQueue;
use herald_ports::StoreError;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

impl KafkaQueue {
    /// End offsets of `partitions`: the broker's answer, raised to what this node's own
    /// writes and fetches prove (see [`crate::publish::ProducedEnds`] for why).
    pub(crate) async fn end_offsets(
        &self,
        partitions: Vec<(String, i32)>,
    ) -> Result<HashMap<(String, i32), i64>, StoreError> {
        let consumer = self.view_consumer.clone();
        let timeout = self.shared().options.request_timeout;
        let probe = partitions.clone();
        let mut ends =
            tokio::task::spawn_blocking(move || end_offsets(&*consumer, &probe, timeout))
                .await
                .map_err(|e| StoreError::backend("reading Kafka end offsets", e))??;
        let levels = self.shared().layout.levels();
        let mut lanes = self.shared().lanes.lock();
        for (topic, partition) in partitions {
            let fetched = match self.shared().layout.route(&topic) {
                Some(route) => lanes.with_window(route, partition, levels, |w| {
                    w.map_or(0, |w| w.next_offset())
                }),
                None => 0,
            };
            let produced = self.shared().produced.get(&topic, partition);
            let end = ends.entry((topic, partition)).or_insert(0);
            *end = (*end).max(produced).max(fetched);
        }
        Ok(ends)
    }

    pub(crate) async fn first_assignment(&self) -> Result<(), StoreError> {
        let timeout = self.shared().options.request_timeout + self.shared().options.session_timeout;
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.shared().fetched.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared().assignments.load(Ordering::Acquire) > 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "Kafka queue: the consumer group assigned no partitions within {timeout:?}"
                )));
            }
            let _ = tokio::time::timeout_at(deadline.into(), notified).await;
        }
    }

    /// Waits until this node's views hold records it produced (offsets as delivered).
    pub(crate) async fn see_own_writes(
        &self,
        landed: Vec<(String, i32, i64)>,
    ) -> Result<(), StoreError> {
        let targets: Vec<_> = landed.into_iter().map(|(t, p, o)| (t, p, o + 1)).collect();
        self.views()
            .caught_up(&targets, self.shared().options.request_timeout)
            .await
    }

    /// Waits until the views have read the dead and canceled topics up to their current end.
    pub(crate) async fn catch_up_views(&self) -> Result<(), StoreError> {
        let layout = &self.shared().layout;
        let partitions = self.partitions_of(
            [layout.dead(), layout.canceled(), layout.acks()]
                .iter()
                .map(String::as_str),
        );
        let timeout = self.shared().options.request_timeout;
        let ends = self.end_offsets(partitions).await?;
        let targets: Vec<_> = ends.into_iter().map(|((t, p), o)| (t, p, o)).collect();
        self.views().caught_up(&targets, timeout).await
    }

    /// Waits (briefly) until this node has fetched the partitions it owns of `topics` up to
    /// their current end; paused or slow partitions end the wait after a second.
    pub(crate) async fn catch_up_workers(&self, topics: &[String]) -> Result<(), StoreError> {
        let owned: Vec<(String, i32)> = {
            let mut owned = Vec::new();
            self.shared().lanes.lock().for_each_window(
                &self.shared().layout,
                |topic, partition, _| {
                    if topics.iter().any(|t| t == topic) {
                        owned.push((topic.to_owned(), partition));
                    }
                },
            );
            owned
        };
        if owned.is_empty() {
            return Ok(());
        }
        let ends = self.end_offsets(owned.clone()).await?;
        let deadline = Instant::now() + Duration::from_secs(1);
        let levels = self.shared().layout.levels();
        loop {
            let notified = self.shared().fetched.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let behind = {
                let mut lanes = self.shared().lanes.lock();
                owned.iter().any(|(topic, partition)| {
                    let Some(route) = self.shared().layout.route(topic) else {
                        return false;
                    };
                    let end = ends.get(&(topic.clone(), *partition)).copied().unwrap_or(0);
                    lanes.with_window(route, *partition, levels, |w| {
                        w.is_some_and(|w| w.next_offset() < end)
                    })
                })
            };
            if !behind || Instant::now() >= deadline {
                return Ok(());
            }
            let _ = tokio::time::timeout_at(deadline.into(), notified).await;
        }
    }
}
