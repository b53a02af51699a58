//! JSON shapes of what the API returns: times as RFC 3339, ids as strings, secrets never.

use herald_domain::task::AttemptLog;
use herald_domain::time::to_rfc3339;
use herald_ports::{DeadLetter, DeliveryView, MessageView, SearchHit, SearchPage};
use serde_json::{Value, json};

fn time(ms: i64) -> Value {
    Value::String(to_rfc3339(ms))
}

fn opt_time(ms: Option<i64>) -> Value {
    ms.map(time).unwrap_or(Value::Null)
}

pub fn attempt(a: &AttemptLog) -> Value {
    json!({
        "attempt": a.attempt,
        "at": time(a.at),
        "account": a.account_id,
        "latency_ms": a.latency_ms,
        "outcome": a.outcome,
        "provider_request_id": a.provider_request_id,
        "code": a.code,
        "message": a.message,
    })
}

pub fn delivery(d: &DeliveryView) -> Value {
    json!({
        "id": d.id,
        "to": d.receiver.to,
        "receiver": d.receiver,
        "state": d.state,
        "code": d.code,
        "detail": d.detail,
        "next_attempt_at": opt_time(d.next_at),
        "content": d.content,
        "updated_at": time(d.updated_at),
        "attempts": d.attempts.iter().map(attempt).collect::<Vec<_>>(),
    })
}

pub fn message(v: &MessageView) -> Value {
    let m = &v.message;
    json!({
        "id": m.id,
        "status": v.status,
        "template": m.template_id,
        "template_version": m.template_version,
        "channel": m.channel,
        "account": m.account_id,
        "priority": m.priority,
        "created_at": time(m.created_at),
        "send_at": opt_time(m.send_at),
        "expire_at": opt_time(m.expire_at),
        "variables": m.variables,
        "deliveries": v.deliveries.iter().map(delivery).collect::<Vec<_>>(),
    })
}

pub fn hit(h: &SearchHit) -> Value {
    json!({
        "message_id": h.message_id,
        "delivery_id": h.delivery_id,
        "template": h.template_id,
        "channel": h.channel,
        "account": h.account_id,
        "to": h.receiver,
        "state": h.state,
        "code": h.code,
        "content": h.content,
        "created_at": time(h.created_at),
        "updated_at": time(h.updated_at),
    })
}

pub fn search_page(p: &SearchPage) -> Value {
    json!({
        "items": p.hits.iter().map(hit).collect::<Vec<_>>(),
        "next_cursor": p.next_cursor,
    })
}

pub fn dead_letter(d: &DeadLetter) -> Value {
    let (message_id, attempt) = match &d.task {
        herald_domain::TaskEnvelope::DeliveryV1(t) => {
            (Some(t.message_id.to_string()), Some(t.attempt))
        }
        herald_domain::TaskEnvelope::ResultV1(e) => (Some(e.message_id.to_string()), None),
    };
    json!({
        "id": d.id,
        "delivery_id": d.delivery_id,
        "message_id": message_id,
        "attempts": attempt,
        "reason": d.reason,
        "died_at": time(d.died_at),
    })
}
