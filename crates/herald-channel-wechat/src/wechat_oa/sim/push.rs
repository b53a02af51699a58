//! Pushing TEMPLATESENDJOBFINISH events to an app's server URL, signed (and in safe mode
//! encrypted) exactly as WeChat does, retried up to [`ATTEMPTS`] times like WeChat retries
//! a server that does not answer.

use super::{AppSim, CallbackMode, CallbackTarget, WechatSim};
use crate::common::xml::{XmlValue, write_flat};
use crate::wechat_oa::signing::{self, AesKey};
use std::sync::Arc;
use std::time::Duration;

/// Attempts per event.
pub const ATTEMPTS: u32 = 3;
/// Pause between attempts.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// One event to push.
#[derive(Debug, Clone)]
pub struct Event {
    pub original_id: String,
    pub openid: String,
    pub msgid: u64,
    pub status: String,
}

impl Event {
    /// The event XML, field order as WeChat sends it.
    pub fn xml(&self, create_time: i64) -> String {
        write_flat(&[
            ("ToUserName", XmlValue::Text(self.original_id.clone())),
            ("FromUserName", XmlValue::Text(self.openid.clone())),
            ("CreateTime", XmlValue::Number(create_time)),
            ("MsgType", XmlValue::Text("event".into())),
            ("Event", XmlValue::Text("TEMPLATESENDJOBFINISH".into())),
            ("MsgID", XmlValue::Number(self.msgid as i64)),
            ("Status", XmlValue::Text(self.status.clone())),
        ])
    }
}

/// A callback request: query parameters and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPush {
    pub query: Vec<(&'static str, String)>,
    pub body: String,
}

/// Signs (and in safe mode encrypts) `event` for `target` at `timestamp` with `nonce`.
pub fn sign(
    target: &CallbackTarget,
    appid: &str,
    event: &Event,
    timestamp: i64,
    nonce: &str,
) -> Result<SignedPush, String> {
    let ts = timestamp.to_string();
    let signature = signing::signature(&[&target.token, &ts, nonce]);
    let mut query = vec![
        ("signature", signature),
        ("timestamp", ts.clone()),
        ("nonce", nonce.to_owned()),
        ("openid", event.openid.clone()),
    ];
    let xml = event.xml(timestamp);
    let body = match target.mode {
        CallbackMode::Plain => xml,
        CallbackMode::Safe => {
            let key = target
                .encoding_aes_key
                .as_deref()
                .ok_or("safe mode without encoding_aes_key")?;
            let key = AesKey::from_encoding_key(key).map_err(|e| e.to_string())?;
            let encrypted = key.encrypt(&xml, appid, rand::random());
            query.push(("encrypt_type", "aes".into()));
            query.push((
                "msg_signature",
                signing::signature(&[&target.token, &ts, nonce, &encrypted]),
            ));
            write_flat(&[
                ("ToUserName", XmlValue::Text(event.original_id.clone())),
                ("Encrypt", XmlValue::Text(encrypted)),
            ])
        }
    };
    Ok(SignedPush { query, body })
}

/// Waits `delay_ms`, then pushes the event until the server answers 2xx or attempts run out.
pub async fn deliver(
    sim: Arc<WechatSim>,
    app: Arc<AppSim>,
    appid: String,
    target: CallbackTarget,
    event: Event,
    delay_ms: u64,
) {
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    for attempt in 1..=ATTEMPTS {
        let timestamp = herald_domain::time::now_ms() / 1000;
        let nonce = rand::random::<u32>().to_string();
        let push = match sign(&target, &appid, &event, timestamp, &nonce) {
            Ok(push) => push,
            Err(e) => {
                tracing::warn!(error = %e, "wechat sim cannot sign an event");
                break;
            }
        };
        let result = sim
            .http
            .post(&target.url)
            .query(&push.query)
            .header("content-type", "text/xml")
            .body(push.body)
            .send()
            .await;
        match result {
            Ok(response) if response.status().is_success() => {
                app.counters.lock().receipts_pushed += 1;
                return;
            }
            Ok(response) => {
                tracing::debug!(status = %response.status(), attempt, "wechat sim push refused")
            }
            Err(e) => tracing::debug!(error = %e, attempt, "wechat sim push failed"),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
    app.counters.lock().receipts_failed += 1;
}
