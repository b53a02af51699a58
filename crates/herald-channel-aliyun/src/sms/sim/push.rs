//! Receipt pushes: after a send, its report goes to the configured `receipts_url` as Aliyun's
//! JSON array, sometimes twice (receipts arrive at least once).

use super::{AliyunSim, SentSms};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Attempts per push (Aliyun retries at 1, 5, 10 minutes; the simulator compresses that).
const ATTEMPTS: u32 = 3;
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Schedules the receipt push of one send call (no-op without a `receipts_url`).
pub(super) fn schedule(sim: &Arc<AliyunSim>, sent: &[SentSms]) {
    let settings = sim.settings();
    let Some(url) = settings.receipts_url else {
        return;
    };
    let Some(client) = client(sim) else {
        return;
    };
    let body = Value::Array(sent.iter().map(SentSms::report).collect());
    let twice = rand::random::<f64>() < settings.duplicate_receipt_rate;
    let delay = Duration::from_millis(settings.receipt_delay_ms);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        push(&client, &url, &body).await;
        if twice {
            push(&client, &url, &body).await;
        }
    });
}

fn client(sim: &AliyunSim) -> Option<reqwest::Client> {
    if let Some(client) = sim.push_client.get() {
        return Some(client.clone());
    }
    match herald_channels::http_client() {
        Ok(client) => Some(sim.push_client.get_or_init(|| client).clone()),
        Err(e) => {
            tracing::error!(error = %e, "aliyun sim: cannot build the receipt push client");
            None
        }
    }
}

/// POSTs the array until answered `{"code": 0}` or the attempts run out.
async fn push(client: &reqwest::Client, url: &str, body: &Value) {
    for attempt in 1..=ATTEMPTS {
        let answer = client
            .post(url)
            .timeout(Duration::from_secs(10))
            .json(body)
            .send()
            .await;
        let acknowledged = match answer {
            Ok(response) if response.status().is_success() => response
                .json::<Value>()
                .await
                .is_ok_and(|v| v.get("code").and_then(Value::as_i64) == Some(0)),
            _ => false,
        };
        if acknowledged {
            return;
        }
        tracing::debug!(url, attempt, "aliyun sim: receipt push not acknowledged");
        if attempt < ATTEMPTS {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}
