//! A delivery task through the pipeline, in two steps:
//! [`prepare`] — expiry → policies → template → account → render → channel — and
//! [`send_batch`] — rate permit → one provider call for up to `max_batch` prepared tasks of
//! one account → token refresh / reconcile → classification into the result event and the
//! follow-up (retry task or dead letter) of each task.

use super::policy::{PolicyChain, PolicyDecision};
use crate::engine::Engine;
use crate::metrics::EngineMetrics;
use herald_domain::task::AttemptLog;
use herald_domain::time::now_ms;
use herald_domain::{
    DeliveryState, DeliveryTask, EventVersion, Outcome, ResultEvent, ResultKind, RetrySchedule,
    TaskEnvelope,
};
use herald_ports::{AccountContext, Channel, OutboundMessage, Receipt, SendResult, Topic};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What finishing one leased task commits to the queue.
pub(crate) struct Completion {
    pub receipt: Receipt,
    pub publish: Vec<(Topic, TaskEnvelope)>,
    pub dead: Option<(TaskEnvelope, String)>,
}

/// A task ready for its provider call.
pub(crate) struct Prepared {
    receipt: Receipt,
    task: DeliveryTask,
    pub account: Arc<AccountContext>,
    pub channel: Arc<dyn Channel>,
    outbound: OutboundMessage,
    /// Rendered content with sensitive values masked, for the records.
    stored: String,
}

pub(crate) enum Step {
    /// Finished without a provider call (expired, filtered, failed to prepare, deferred).
    Done(Completion),
    Ready(Prepared),
}

/// A result event of `task` in `state`, at the task's attempt.
fn event(
    task: &DeliveryTask,
    state: DeliveryState,
    code: Option<String>,
    detail: Option<String>,
) -> ResultEvent {
    ResultEvent {
        app_id: task.app_id.clone(),
        message_id: task.message_id.clone(),
        delivery_id: task.delivery_id.clone(),
        version: EventVersion::new(task.attempt, state),
        state,
        kind: ResultKind::Dispatch,
        at: now_ms(),
        code,
        detail,
        next_at: None,
        content: None,
        attempt: None,
    }
}

impl Completion {
    fn with_event(receipt: Receipt, ev: ResultEvent) -> Self {
        Self {
            receipt,
            publish: vec![(Topic::Result, TaskEnvelope::ResultV1(ev))],
            dead: None,
        }
    }
}

pub(crate) async fn prepare(
    engine: &Engine,
    policies: &PolicyChain,
    receipt: Receipt,
    task: DeliveryTask,
) -> Step {
    let m = &engine.metrics;
    if task.expire_at.is_some_and(|e| e <= now_ms()) {
        EngineMetrics::add(&m.expired, 1);
        return Step::Done(Completion::with_event(
            receipt,
            event(&task, DeliveryState::Expired, Some("expired".into()), None),
        ));
    }
    match policies.check(&task).await {
        PolicyDecision::Continue => {}
        PolicyDecision::Filter(reason) => {
            let ev = event(
                &task,
                DeliveryState::Filtered,
                Some("filtered".into()),
                Some(reason),
            );
            return Step::Done(Completion::with_event(receipt, ev));
        }
        PolicyDecision::DeferUntil(at) => {
            let mut later = task;
            later.not_before = at;
            return Step::Done(Completion {
                receipt,
                publish: vec![(Topic::Retry, TaskEnvelope::DeliveryV1(later))],
                dead: None,
            });
        }
    }
    let fail = |code: &str, detail: String| {
        EngineMetrics::add(&m.failed, 1);
        tracing::warn!(delivery = %task.delivery_id, code, detail = %detail, "delivery failed before sending");
        event(
            &task,
            DeliveryState::Failed,
            Some(code.into()),
            Some(detail),
        )
    };
    let compiled = match engine
        .compiled(&task.app_id, &task.template_id, task.template_version)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            return Step::Done(Completion::with_event(
                receipt,
                fail("template_unavailable", e.to_string()),
            ));
        }
    };
    let account = match engine.account_context(&task.app_id, &task.account_id).await {
        Ok(Some(a)) if a.account.enabled => a,
        Ok(_) => {
            let ev = fail(
                "account_unavailable",
                format!("account {} is missing or disabled", task.account_id),
            );
            return Step::Done(Completion::with_event(receipt, ev));
        }
        Err(e) => {
            return Step::Done(Completion::with_event(
                receipt,
                fail("account_unavailable", e.to_string()),
            ));
        }
    };
    let (content, stored) = match compiled.render_both(&task.variables) {
        Ok(both) => both,
        Err(e) => return Step::Done(Completion::with_event(receipt, fail("render_error", e))),
    };
    let Some(channel) = engine.deps.channels.get(&task.channel).cloned() else {
        let ev = fail(
            "channel_unavailable",
            format!("no {} channel is configured", task.channel),
        );
        return Step::Done(Completion::with_event(receipt, ev));
    };
    let outbound = OutboundMessage {
        app_id: task.app_id.clone(),
        message_id: task.message_id.clone(),
        delivery_id: task.delivery_id.clone(),
        receiver: task.receiver.clone(),
        content,
        attempt: task.attempt,
    };
    Step::Ready(Prepared {
        receipt,
        task,
        account,
        channel,
        outbound,
        stored,
    })
}

/// One provider call for `batch` (same account and channel, at most `max_batch` long).
pub(crate) async fn send_batch(engine: &Engine, batch: Vec<Prepared>) -> Vec<Completion> {
    let Some(first) = batch.first() else {
        return Vec::new();
    };
    let (account, channel) = (first.account.clone(), first.channel.clone());
    let rate = account.account.rate_limit.per_second;
    let permit = engine
        .deps
        .limiter
        .acquire_within(
            account.account.id.as_str(),
            rate,
            engine.settings.max_rate_wait,
        )
        .await;
    if let Err(wait) = permit {
        // A deep backlog on a slow account: sleeping past the lease would hand the task
        // out again (and send it twice), so it goes back, due when a permit will be free.
        EngineMetrics::add(&engine.metrics.rate_deferred, batch.len() as u64);
        let due = now_ms() + wait.as_millis() as i64;
        return batch
            .into_iter()
            .map(|p| {
                let mut task = p.task;
                task.not_before = due;
                Completion {
                    receipt: p.receipt,
                    publish: vec![(Topic::Retry, TaskEnvelope::DeliveryV1(task))],
                    dead: None,
                }
            })
            .collect();
    }
    let outbound: Vec<OutboundMessage> = batch.iter().map(|p| p.outbound.clone()).collect();
    let started_at = now_ms();
    let clock = Instant::now();
    let mut results = call(channel.as_ref(), &account, &outbound).await;
    // A rejected token: refresh it and resend, once, only what the provider refused.
    let refused: Vec<usize> = (0..results.len())
        .filter(|&i| matches!(results[i].outcome, Outcome::TokenExpired { .. }))
        .collect();
    if !refused.is_empty() {
        channel.refresh_token(&account).await;
        let again: Vec<OutboundMessage> = refused.iter().map(|&i| outbound[i].clone()).collect();
        for (&i, r) in refused
            .iter()
            .zip(call(channel.as_ref(), &account, &again).await)
        {
            results[i] = r;
        }
        for &i in &refused {
            if let Outcome::TokenExpired { code, message } = &results[i].outcome {
                results[i].outcome = Outcome::Retryable {
                    code: code.clone(),
                    message: message.clone(),
                    retry_after_ms: None,
                };
            }
        }
    }
    let latency_ms = clock.elapsed().as_millis() as u64;
    let mut completions = Vec::with_capacity(batch.len());
    for (p, mut result) in batch.into_iter().zip(results) {
        if matches!(result.outcome, Outcome::Unknown { .. })
            && let Some(found) = channel.reconcile(&account, &p.outbound).await
        {
            result.outcome = found;
        }
        EngineMetrics::add(&engine.metrics.attempts, 1);
        let log = AttemptLog {
            attempt: p.task.attempt,
            at: started_at,
            account_id: p.task.account_id.clone(),
            latency_ms,
            outcome: result.outcome.class().to_owned(),
            provider_request_id: result.provider_request_id.clone(),
            code: result.outcome.code().map(str::to_owned),
            message: result.outcome.message().map(str::to_owned),
        };
        completions.push(classify(
            engine,
            &account.account.retry,
            p.receipt,
            p.task,
            result.outcome,
            log,
            p.stored,
        ));
    }
    completions
}

/// The channel's results, padded with `Unknown` if it returned fewer than asked (a channel
/// bug must not lose tasks).
async fn call(
    channel: &dyn Channel,
    account: &AccountContext,
    batch: &[OutboundMessage],
) -> Vec<SendResult> {
    let mut results = channel.send(account, batch).await;
    if results.len() != batch.len() {
        tracing::error!(channel = %channel.kind(), asked = batch.len(), got = results.len(), "channel returned the wrong number of results");
    }
    results.resize_with(batch.len(), || SendResult {
        outcome: Outcome::Unknown {
            code: "no_result".into(),
            message: "the channel returned no result".into(),
        },
        provider_request_id: None,
        latency: Duration::ZERO,
    });
    results
}

/// Turns an outcome into the next state, the retry task or the dead letter.
fn classify(
    engine: &Engine,
    schedule: &RetrySchedule,
    receipt: Receipt,
    task: DeliveryTask,
    outcome: Outcome,
    log: AttemptLog,
    content: String,
) -> Completion {
    let m = &engine.metrics;
    let code = outcome.code().map(str::to_owned);
    let detail = outcome.message().map(str::to_owned);
    let (state, follow_up, dead) = match &outcome {
        Outcome::Delivered { .. } => {
            EngineMetrics::add(&m.delivered, 1);
            (DeliveryState::Delivered, None, None)
        }
        Outcome::Sent { .. } => {
            EngineMetrics::add(&m.sent, 1);
            (DeliveryState::Sent, None, None)
        }
        Outcome::Permanent { .. } => {
            EngineMetrics::add(&m.failed, 1);
            (DeliveryState::Failed, None, None)
        }
        Outcome::Unknown { .. } => {
            EngineMetrics::add(&m.unknown, 1);
            (DeliveryState::Unknown, None, None)
        }
        Outcome::Retryable { retry_after_ms, .. } => retry_or_die(
            engine,
            schedule,
            &task,
            retry_after_ms.map(Duration::from_millis),
        ),
        Outcome::TokenExpired { .. } => retry_or_die(engine, schedule, &task, None),
    };
    let mut ev = event(&task, state, code, detail);
    ev.content = Some(content);
    ev.attempt = Some(log);
    if let Some(next) = &follow_up {
        ev.next_at = Some(next.not_before);
    }
    let mut publish = vec![(Topic::Result, TaskEnvelope::ResultV1(ev))];
    if let Some(next) = follow_up {
        publish.push((Topic::Retry, TaskEnvelope::DeliveryV1(next)));
    }
    Completion {
        receipt,
        publish,
        dead: dead.map(|reason| (TaskEnvelope::DeliveryV1(task), reason)),
    }
}

fn retry_or_die(
    engine: &Engine,
    schedule: &RetrySchedule,
    task: &DeliveryTask,
    retry_after: Option<Duration>,
) -> (DeliveryState, Option<DeliveryTask>, Option<String>) {
    match schedule.next_delay(task.attempt, retry_after) {
        Some(delay) => {
            EngineMetrics::add(&engine.metrics.retried, 1);
            let mut next = task.clone();
            next.attempt += 1;
            next.not_before = now_ms() + delay.as_millis() as i64;
            (DeliveryState::Retrying, Some(next), None)
        }
        None => {
            EngineMetrics::add(&engine.metrics.dead, 1);
            (
                DeliveryState::Dead,
                None,
                Some(format!("retries exhausted after {} attempts", task.attempt)),
            )
        }
    }
}
