//! Accepting messages: validate, assign ids, commit records + tasks + idempotency entry as
//! one durable unit, answer `202`. Also reading them back and canceling.

mod answer;
pub mod request;
mod validate;

use crate::engine::Engine;
use crate::error::{EngineError, ItemError};
use crate::metrics::EngineMetrics;
use crate::render::redact;
use herald_domain::time::now_ms;
use herald_domain::{
    AppId, Delivery, DeliveryId, DeliveryState, EventVersion, Message, MessageId, Receiver,
    ResultEvent, ResultKind, Variables,
};
use herald_ports::{AcceptBatch, AcceptCommit, IdempotencyEntry, MessageView};
pub use request::{
    AcceptOutcome, BatchItem, BatchRequest, IdempotencyInput, ReceiverInput, SendRequest,
};
use validate::{CommonInput, Plan};

impl Engine {
    /// `POST /v1/messages`.
    pub async fn send(
        &self,
        app: &AppId,
        req: SendRequest,
        idem: Option<IdempotencyInput>,
    ) -> Result<AcceptOutcome, EngineError> {
        if let Some(replay) = self.idempotent_replay(app, idem.as_ref()).await? {
            return Ok(replay);
        }
        if req.receivers.is_empty() {
            return Err(EngineError::field(
                "receivers",
                "at least one receiver is required",
            ));
        }
        if req.receivers.len() > self.settings.max_receivers {
            return Err(EngineError::field(
                "receivers",
                format!(
                    "at most {} receivers per call; use /v1/messages/batch for more",
                    self.settings.max_receivers
                ),
            ));
        }
        let plan = validate::plan(
            self,
            app,
            common(
                &req.template,
                &req.send_at,
                &req.expire_at,
                req.priority,
                &req.account,
            ),
        )
        .await?;
        let mut errors = plan.check_variables(&req.variables, &"variables");
        let sensitive = plan.compiled.version.has_sensitive();
        let receivers: Vec<Receiver> = req
            .receivers
            .into_iter()
            .map(ReceiverInput::into_receiver)
            .collect();
        for (i, r) in receivers.iter().enumerate() {
            errors.extend(plan.check_receiver(r, &format_args!("receivers[{i}]")));
        }
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let items = receivers
            .into_iter()
            .map(|receiver| Item {
                receiver,
                own: Variables::new(),
                merged: if sensitive {
                    req.variables.clone()
                } else {
                    Variables::new()
                },
            })
            .collect();
        self.commit_accept(app, &plan, req.variables, items, idem)
            .await
    }

    /// `POST /v1/messages/batch`: all-or-nothing over up to `max_batch_items` items.
    pub async fn send_batch(
        &self,
        app: &AppId,
        req: BatchRequest,
        idem: Option<IdempotencyInput>,
    ) -> Result<AcceptOutcome, EngineError> {
        if let Some(replay) = self.idempotent_replay(app, idem.as_ref()).await? {
            return Ok(replay);
        }
        if req.items.is_empty() {
            return Err(EngineError::field("items", "at least one item is required"));
        }
        if req.items.len() > self.settings.max_batch_items {
            return Err(EngineError::field(
                "items",
                format!("at most {} items per batch", self.settings.max_batch_items),
            ));
        }
        let plan = validate::plan(
            self,
            app,
            common(
                &req.template,
                &req.send_at,
                &req.expire_at,
                req.priority,
                &req.account,
            ),
        )
        .await?;
        let mut bad = Vec::new();
        let mut items = Vec::with_capacity(req.items.len());
        for (index, item) in req.items.into_iter().enumerate() {
            let receiver = item.receiver.into_receiver();
            let mut merged = req.variables.clone();
            merged.extend(item.variables.iter().map(|(k, v)| (k.clone(), v.clone())));
            let errors = plan.check(
                &receiver,
                &format_args!("items[{index}].receiver"),
                &merged,
                &format_args!("items[{index}].variables"),
            );
            if errors.is_empty() {
                items.push(Item {
                    receiver,
                    own: item.variables,
                    merged,
                });
            } else {
                bad.push(ItemError { index, errors });
            }
        }
        if !bad.is_empty() {
            return Err(EngineError::InvalidItems(bad));
        }
        self.commit_accept(app, &plan, req.variables, items, idem)
            .await
    }

    async fn idempotent_replay(
        &self,
        app: &AppId,
        idem: Option<&IdempotencyInput>,
    ) -> Result<Option<AcceptOutcome>, EngineError> {
        let Some(idem) = idem else { return Ok(None) };
        let ttl = self.settings.idempotency_ttl.as_millis() as i64;
        match self
            .deps
            .intake
            .idempotency_lookup(app, &idem.key, ttl)
            .await?
        {
            Some(entry) => self.replay(entry, idem).map(Some),
            None => Ok(None),
        }
    }

    fn replay(
        &self,
        entry: IdempotencyEntry,
        idem: &IdempotencyInput,
    ) -> Result<AcceptOutcome, EngineError> {
        if entry.request_hash != idem.request_hash {
            return Err(EngineError::IdempotencyConflict);
        }
        EngineMetrics::add(&self.metrics.idempotent_replays, 1);
        Ok(AcceptOutcome {
            status: entry.status,
            body: entry.response.to_string(),
            replayed: true,
        })
    }

    async fn commit_accept(
        &self,
        app: &AppId,
        plan: &Plan,
        shared: Variables,
        items: Vec<Item>,
        idem: Option<IdempotencyInput>,
    ) -> Result<AcceptOutcome, EngineError> {
        let version = &plan.compiled.version;
        let sensitive = version.has_sensitive();
        // The records keep redacted copies; the tasks carry the merged values in clear.
        let mut clear = Vec::with_capacity(items.len());
        let mut deliveries = Vec::with_capacity(items.len());
        for Item {
            receiver,
            own,
            merged,
        } in items
        {
            if sensitive {
                clear.push(merged);
            }
            deliveries.push(Delivery {
                id: DeliveryId::generate_at(plan.now),
                receiver,
                variables: if sensitive {
                    redact(version, &own)
                } else {
                    own
                },
            });
        }
        let count = deliveries.len() as u64;
        let message = Message {
            id: MessageId::generate_at(plan.now),
            app_id: app.clone(),
            template_id: plan.template.id.clone(),
            template_version: version.version,
            channel: plan.template.channel,
            account_id: plan.account.account.id.clone(),
            priority: plan.priority,
            send_at: plan.send_at,
            expire_at: plan.expire_at,
            created_at: plan.now,
            variables: if sensitive {
                redact(version, &shared)
            } else {
                shared
            },
            deliveries,
        };
        let body = answer::accepted_body(&message);
        // Unredacted, each task is its delivery's first task as recorded: the intake builds
        // them where it needs them (the journal, for a spilled accept, never does).
        let tasks = sensitive.then(|| {
            message
                .deliveries
                .iter()
                .zip(clear)
                .map(|(delivery, vars)| message.first_task(delivery, vars))
                .collect()
        });
        let idempotency = idem.as_ref().map(|i| IdempotencyEntry {
            app_id: app.clone(),
            key: i.key.clone(),
            request_hash: i.request_hash.clone(),
            status: 202,
            response: serde_json::from_str(&body).expect("the answer is JSON"),
            created_at: plan.now,
        });
        let batch = AcceptBatch {
            app_id: app.clone(),
            messages: vec![message],
            tasks,
            idempotency,
        };
        match self.deps.intake.accept(batch).await? {
            AcceptCommit::Committed => {
                EngineMetrics::add(&self.metrics.accepted, count);
                Ok(AcceptOutcome {
                    status: 202,
                    body,
                    replayed: false,
                })
            }
            AcceptCommit::Existing(entry) => {
                self.replay(entry, idem.as_ref().expect("Existing implies a key"))
            }
        }
    }

    /// `GET /v1/messages/{id}`.
    pub async fn get_message(&self, app: &AppId, id: &str) -> Result<MessageView, EngineError> {
        let id = MessageId::parse(id).ok_or(EngineError::NotFound("message"))?;
        self.deps
            .records
            .get_message(app, &id)
            .await?
            .ok_or(EngineError::NotFound("message"))
    }

    /// `DELETE /v1/messages/{id}`: cancels the deliveries nothing has been handed out for yet.
    /// Returns the canceled delivery ids.
    pub async fn cancel_message(
        &self,
        app: &AppId,
        id: &str,
    ) -> Result<Vec<DeliveryId>, EngineError> {
        let view = self.get_message(app, id).await?;
        let cancelable: Vec<_> = view
            .deliveries
            .iter()
            .filter(|d| d.state.is_cancelable())
            .collect();
        if cancelable.is_empty() {
            return Err(EngineError::Conflict {
                code: "not_cancelable",
                message: "no delivery of this message can still be canceled".into(),
            });
        }
        let ids: Vec<DeliveryId> = cancelable.iter().map(|d| d.id.clone()).collect();
        self.deps.queue.cancel(app, &ids).await?;
        let now = now_ms();
        let events = cancelable
            .iter()
            .map(|d| ResultEvent {
                app_id: app.clone(),
                message_id: view.message.id.clone(),
                delivery_id: d.id.clone(),
                version: EventVersion::new(d.version.seq, DeliveryState::Canceled),
                state: DeliveryState::Canceled,
                kind: ResultKind::Cancel,
                at: now,
                code: None,
                detail: Some("canceled by the caller".into()),
                next_at: None,
                content: None,
                attempt: None,
            })
            .collect();
        self.deps.records.apply(events).await?;
        EngineMetrics::add(&self.metrics.canceled, ids.len() as u64);
        Ok(ids)
    }
}

/// One receiver of an accept: its own variables (what the records keep beside the message's
/// shared ones) and the shared ones merged with them (what validation checked, and the
/// task's variables when the records keep redacted copies; otherwise unused).
struct Item {
    receiver: Receiver,
    own: Variables,
    merged: Variables,
}

fn common<'a>(
    template: &'a str,
    send_at: &'a Option<String>,
    expire_at: &'a Option<String>,
    priority: Option<herald_domain::Priority>,
    account: &'a Option<String>,
) -> CommonInput<'a> {
    CommonInput {
        template,
        send_at: send_at.as_deref(),
        expire_at: expire_at.as_deref(),
        priority,
        account: account.as_deref(),
    }
}
