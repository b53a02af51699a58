//! Dead letters (deliveries whose retries ran out) and replay, plus message search.

use crate::engine::Engine;
use crate::error::EngineError;
use herald_domain::time::now_ms;
use herald_domain::{
    AppId, DeadLetterId, DeliveryState, EventVersion, ResultEvent, ResultKind, TaskEnvelope,
};
use herald_ports::{DeadLetter, SearchFilter, SearchPage, Topic};

impl Engine {
    pub async fn list_dead_letters(
        &self,
        app: &AppId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, EngineError> {
        let after = after.map(|a| {
            DeadLetterId::parse(a)
                .ok_or_else(|| EngineError::field("after", "must be a dead letter id"))
        });
        let after = after.transpose()?;
        Ok(self
            .deps
            .queue
            .list_dead(app, after.as_ref(), limit.clamp(1, 1000))
            .await?)
    }

    /// Puts dead letters back on the send topic; their records go back to `accepted` at the
    /// new attempt number, so the replay's outcome wins over `dead`.
    pub async fn replay_dead_letters(
        &self,
        app: &AppId,
        ids: &[String],
    ) -> Result<usize, EngineError> {
        let mut parsed = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            parsed.push(DeadLetterId::parse(id).ok_or_else(|| {
                EngineError::field(format!("ids[{i}]"), "must be a dead letter id")
            })?);
        }
        let replayed = self.deps.queue.replay_dead(app, &parsed).await?;
        let now = now_ms();
        let events: Vec<TaskEnvelope> = replayed
            .iter()
            .filter_map(|t| match t {
                TaskEnvelope::DeliveryV1(t) => Some(TaskEnvelope::ResultV1(ResultEvent {
                    app_id: t.app_id.clone(),
                    message_id: t.message_id.clone(),
                    delivery_id: t.delivery_id.clone(),
                    version: EventVersion::new(t.attempt, DeliveryState::Accepted),
                    state: DeliveryState::Accepted,
                    kind: ResultKind::Replay,
                    at: now,
                    code: None,
                    detail: Some("replayed from the dead-letter store".into()),
                    next_at: None,
                    content: None,
                    attempt: None,
                })),
                TaskEnvelope::ResultV1(_) => None,
            })
            .collect();
        if !events.is_empty() {
            self.deps.queue.publish(Topic::Result, events).await?;
        }
        Ok(replayed.len())
    }

    pub async fn search(
        &self,
        app: &AppId,
        filter: &SearchFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SearchPage, EngineError> {
        let page = self
            .deps
            .records
            .search(app, filter, cursor, limit.clamp(1, 1000))
            .await;
        match page {
            Err(herald_ports::StoreError::InvalidInput(_)) if cursor.is_some() => Err(
                EngineError::field("cursor", "is not a cursor handed out by a previous page"),
            ),
            other => Ok(other?),
        }
    }
}
