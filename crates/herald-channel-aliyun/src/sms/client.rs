//! [`AliyunSmsChannel`]: SendSms for single messages, SendBatchSms for messages sharing a
//! template and signature, per-number limits counted before calling, and QuerySendDetails to
//! reconcile a send whose answer was lost (see [`super::reconcile`]).

use super::config::Settings;
use super::errors::{BUSINESS_LIMIT_CONTROL, classify_business};
use super::limits::{CODE_LIMITS, NumberLimits, normalize_number};
use super::rpc::{RpcCall, invoke};
use super::template::TemplateSpec;
use async_trait::async_trait;
use herald_channels::ChannelDeps;
use herald_domain::time::now_ms;
use herald_domain::{ChannelKind, Millis, Outcome};
use herald_ports::{AccountContext, Channel, OutboundMessage, SendResult};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// Most numbers one SendBatchSms call takes.
pub const MAX_BATCH: usize = 100;

/// The Alibaba Cloud SMS channel (`ChannelKind::AliyunSms`).
#[derive(Clone)]
pub struct AliyunSmsChannel {
    pub(super) deps: ChannelDeps,
    /// Per signature + number code counters, shared by every send of this process.
    limits: Arc<NumberLimits>,
}

/// A message that passed the local checks, waiting for its provider call.
struct Ready<'a> {
    index: usize,
    message: &'a OutboundMessage,
    spec: TemplateSpec,
    /// The code-limit key and when its slot was taken (code accounts only).
    reserved: Option<(String, Millis)>,
}

/// The answer for one message: outcome and the id worth recording (BizId, else RequestId).
type Answer = (Outcome, Option<String>);

fn field(body: &Value, name: &str) -> Option<String> {
    body.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// Reads a business answer: `Code: OK` → `Sent` with the BizId.
fn business_answer(body: &Value) -> Answer {
    let code = field(body, "Code").unwrap_or_default();
    if code == "OK" {
        let biz_id = field(body, "BizId");
        return (
            Outcome::Sent {
                provider_id: biz_id.clone(),
            },
            biz_id,
        );
    }
    let message = field(body, "Message").unwrap_or_default();
    let outcome = if code.is_empty() {
        Outcome::Unknown {
            code: "bad_response".into(),
            message: format!(
                "HTTP 200 without Code: {}",
                body.to_string().chars().take(200).collect::<String>()
            ),
        }
    } else {
        classify_business(&code, &message, now_ms())
    };
    (outcome, field(body, "RequestId"))
}

impl AliyunSmsChannel {
    pub fn new(deps: ChannelDeps) -> Self {
        Self {
            deps,
            limits: Arc::new(NumberLimits::default()),
        }
    }

    /// Local checks: template fields, then (code accounts) the per-number windows.
    fn prepare<'a>(
        &self,
        settings: &Settings,
        index: usize,
        message: &'a OutboundMessage,
    ) -> Result<Ready<'a>, Outcome> {
        let spec =
            TemplateSpec::from_fields(&message.content.fields, settings.sign_name.as_deref())
                .map_err(|message| Outcome::Permanent {
                    code: "template_invalid".into(),
                    message,
                })?;
        let mut reserved = None;
        if settings.code_template {
            let key = format!(
                "{}|{}",
                spec.sign_name,
                normalize_number(&message.receiver.to)
            );
            let now = now_ms();
            if let Err(hit) = self.limits.try_acquire(&key, &CODE_LIMITS, now) {
                return Err(Outcome::Retryable {
                    code: BUSINESS_LIMIT_CONTROL.into(),
                    message: format!(
                        "{} (per-number limit counted by Herald; not sent)",
                        hit.message()
                    ),
                    retry_after_ms: Some(hit.retry_after_ms),
                });
            }
            reserved = Some((key, now));
        }
        Ok(Ready {
            index,
            message,
            spec,
            reserved,
        })
    }

    async fn send_single(&self, settings: &Settings, ready: &Ready<'_>) -> Answer {
        let spec = &ready.spec;
        let mut query = vec![
            ("PhoneNumbers".to_owned(), ready.message.receiver.to.clone()),
            ("SignName".to_owned(), spec.sign_name.clone()),
            ("TemplateCode".to_owned(), spec.template_code.clone()),
            ("OutId".to_owned(), ready.message.delivery_id.to_string()),
        ];
        if let Some(param) = spec.template_param() {
            query.push(("TemplateParam".to_owned(), param));
        }
        if let Some(code) = &spec.up_extend_code {
            query.push(("SmsUpExtendCode".to_owned(), code.clone()));
        }
        let call = RpcCall {
            action: "SendSms",
            query,
            form: Vec::new(),
        };
        match invoke(&self.deps.http, settings, &call).await {
            Ok(body) => business_answer(&body),
            Err(outcome) => (outcome, None),
        }
    }

    /// One SendBatchSms call for messages sharing a template code (sign names may differ).
    async fn send_batch(&self, settings: &Settings, group: &[Ready<'_>]) -> Answer {
        let json = |values: Vec<Value>| Value::Array(values).to_string();
        let first = &group[0].spec;
        let mut form = vec![
            (
                "PhoneNumberJson".to_owned(),
                json(
                    group
                        .iter()
                        .map(|r| r.message.receiver.to.clone().into())
                        .collect(),
                ),
            ),
            (
                "SignNameJson".to_owned(),
                json(
                    group
                        .iter()
                        .map(|r| r.spec.sign_name.clone().into())
                        .collect(),
                ),
            ),
            ("TemplateCode".to_owned(), first.template_code.clone()),
        ];
        if group.iter().any(|r| !r.spec.params.is_empty()) {
            let params = group
                .iter()
                .map(|r| Value::from_iter(r.spec.params.clone()))
                .collect();
            form.push(("TemplateParamJson".to_owned(), json(params)));
        }
        if group.iter().any(|r| r.spec.up_extend_code.is_some()) {
            let codes = group
                .iter()
                .map(|r| r.spec.up_extend_code.clone().unwrap_or_default().into())
                .collect();
            form.push(("SmsUpExtendCodeJson".to_owned(), json(codes)));
        }
        let call = RpcCall {
            action: "SendBatchSms",
            query: Vec::new(),
            form,
        };
        match invoke(&self.deps.http, settings, &call).await {
            Ok(body) => business_answer(&body),
            Err(outcome) => (outcome, None),
        }
    }

    /// Sends one template group: SendSms for a single message, SendBatchSms otherwise.
    async fn send_group(&self, settings: &Settings, group: Vec<Ready<'_>>) -> Vec<(usize, Answer)> {
        let mut answers = Vec::with_capacity(group.len());
        if let [single] = group.as_slice() {
            answers.push((single.index, self.send_single(settings, single).await));
        } else {
            for chunk in group.chunks(MAX_BATCH) {
                let answer = self.send_batch(settings, chunk).await;
                answers.extend(chunk.iter().map(|r| (r.index, answer.clone())));
            }
        }
        self.release_refused(&group, &answers);
        answers
    }

    /// Gives back the code-limit slots of sends the provider refused (they did not happen).
    fn release_refused(&self, group: &[Ready<'_>], answers: &[(usize, Answer)]) {
        for ready in group {
            let refused = answers.iter().any(|(i, (outcome, _))| {
                *i == ready.index
                    && matches!(
                        outcome,
                        Outcome::Retryable { .. } | Outcome::Permanent { .. }
                    )
            });
            if let (true, Some((key, at))) = (refused, &ready.reserved) {
                self.limits.release(key, &CODE_LIMITS, *at);
            }
        }
    }
}

#[async_trait]
impl Channel for AliyunSmsChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::AliyunSms
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        let started = Instant::now();
        let mut answers: Vec<Option<Answer>> = vec![None; batch.len()];
        match Settings::from_account(&self.deps, account) {
            Err(outcome) => answers
                .iter_mut()
                .for_each(|a| *a = Some((outcome.clone(), None))),
            Ok(settings) => {
                // Groups by template code, in order of first appearance.
                let mut groups: Vec<Vec<Ready<'_>>> = Vec::new();
                for (index, message) in batch.iter().enumerate() {
                    match self.prepare(&settings, index, message) {
                        Err(outcome) => answers[index] = Some((outcome, None)),
                        Ok(ready) => {
                            // SignNameJson carries a sign name per number, so only the
                            // template has to be shared.
                            let same = |g: &&mut Vec<Ready<'_>>| {
                                g[0].spec.template_code == ready.spec.template_code
                            };
                            match groups.iter_mut().find(same) {
                                Some(group) => group.push(ready),
                                None => groups.push(vec![ready]),
                            }
                        }
                    }
                }
                let sends = groups.into_iter().map(|g| self.send_group(&settings, g));
                for (index, answer) in futures::future::join_all(sends).await.into_iter().flatten()
                {
                    answers[index] = Some(answer);
                }
            }
        }
        let latency = started.elapsed();
        answers
            .into_iter()
            .zip(batch)
            .map(|(answer, message)| {
                let (outcome, provider_request_id) = answer.unwrap_or_else(|| {
                    (
                        Outcome::Unknown {
                            code: "no_result".into(),
                            message: "no answer was recorded for this message".into(),
                        },
                        None,
                    )
                });
                tracing::debug!(
                    delivery_id = %message.delivery_id,
                    class = outcome.class(),
                    code = outcome.code(),
                    latency_ms = latency.as_millis() as u64,
                    "aliyun_sms send"
                );
                SendResult {
                    outcome,
                    provider_request_id,
                    latency,
                }
            })
            .collect()
    }

    async fn reconcile(
        &self,
        account: &AccountContext,
        message: &OutboundMessage,
    ) -> Option<Outcome> {
        super::reconcile::reconcile(self, account, message).await
    }

    async fn poll_receipts(
        &self,
        account: &AccountContext,
        awaiting: &[herald_ports::AwaitingReceipt],
    ) -> Vec<herald_ports::ProviderReceipt> {
        super::poll::poll(self, account, awaiting).await
    }
}
