//! The send task of a delivery's first attempt, derived from its accepted message.
//!
//! When no sensitive variable was redacted from the record, each first task is exactly this
//! derivation of the recorded message: accept then lists no tasks (`AcceptBatch::tasks` is
//! `None`) and the intake builds them where it needs them; the embedded accept journal
//! stores only the messages, which keeps a row ~4× smaller. Accept builds the tasks itself
//! only for a template with sensitive variables, with the clear values. Both sides use
//! these functions, so they cannot drift apart.

use crate::message::{Delivery, Message, Variables};
use crate::task::{DeliveryTask, TaskEnvelope};

impl Message {
    /// The first-attempt task of `delivery` (one of this message's), carrying `variables`:
    /// the merged message and delivery variables in clear.
    pub fn first_task(&self, delivery: &Delivery, variables: Variables) -> TaskEnvelope {
        TaskEnvelope::DeliveryV1(DeliveryTask {
            app_id: self.app_id.clone(),
            message_id: self.id.clone(),
            delivery_id: delivery.id.clone(),
            template_id: self.template_id.clone(),
            template_version: self.template_version,
            channel: self.channel,
            account_id: self.account_id.clone(),
            receiver: delivery.receiver.clone(),
            variables,
            attempt: 1,
            not_before: self.send_at.unwrap_or(self.created_at),
            expire_at: self.expire_at,
            priority: self.priority,
            trace: None,
            accepted_at: self.created_at,
        })
    }

    /// The message's variables overlaid with `delivery`'s (the delivery's win).
    pub fn merged_variables(&self, delivery: &Delivery) -> Variables {
        let mut merged = self.variables.clone();
        merged.extend(
            delivery
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        merged
    }

    /// Every delivery's first task with the variables as recorded here (see the module notes).
    pub fn first_tasks(&self) -> impl Iterator<Item = TaskEnvelope> + '_ {
        self.deliveries
            .iter()
            .map(|d| self.first_task(d, self.merged_variables(d)))
    }

    /// Whether `task` is exactly what [`Message::first_tasks`] gives for `delivery`, checked
    /// without building it.
    pub fn derives(&self, delivery: &Delivery, task: &TaskEnvelope) -> bool {
        let TaskEnvelope::DeliveryV1(t) = task else {
            return false;
        };
        let same_variables = {
            let extra = delivery
                .variables
                .keys()
                .filter(|k| !self.variables.contains_key(*k))
                .count();
            t.variables.len() == self.variables.len() + extra
                && t.variables.iter().all(|(k, v)| {
                    delivery.variables.get(k).or_else(|| self.variables.get(k)) == Some(v)
                })
        };
        same_variables
            && t.app_id == self.app_id
            && t.message_id == self.id
            && t.delivery_id == delivery.id
            && t.template_id == self.template_id
            && t.template_version == self.template_version
            && t.channel == self.channel
            && t.account_id == self.account_id
            && t.receiver == delivery.receiver
            && t.attempt == 1
            && t.not_before == self.send_at.unwrap_or(self.created_at)
            && t.expire_at == self.expire_at
            && t.priority == self.priority
            && t.trace.is_none()
            && t.accepted_at == self.created_at
    }
}

#[cfg(test)]
mod tests {
    use crate::ids::{AccountId, AppId, DeliveryId, MessageId, TemplateId};
    use crate::message::{Delivery, Message, Priority, REDACTED, Receiver};
    use crate::{ChannelKind, TaskEnvelope};
    use serde_json::json;

    fn message() -> Message {
        let delivery = |to: &str, vars: serde_json::Value| Delivery {
            id: DeliveryId::generate(),
            receiver: Receiver::to(to),
            variables: serde_json::from_value(vars).unwrap(),
        };
        Message {
            id: MessageId::generate(),
            app_id: AppId::generate(),
            template_id: TemplateId::generate(),
            template_version: 2,
            channel: ChannelKind::Webhook,
            account_id: AccountId::generate(),
            priority: Priority::High,
            send_at: Some(1_000),
            expire_at: Some(9_000),
            created_at: 500,
            variables: serde_json::from_value(json!({"name": "all", "shop": "x"})).unwrap(),
            deliveries: vec![
                delivery("a", json!({})),
                delivery("b", json!({"name": "Ada"})),
                delivery("c", json!({"code": 7})),
            ],
        }
    }

    #[test]
    fn first_tasks_merge_variables_and_are_recognised() {
        let m = message();
        let tasks: Vec<_> = m.first_tasks().collect();
        let TaskEnvelope::DeliveryV1(b) = &tasks[1] else {
            panic!("a delivery task")
        };
        assert_eq!(b.variables["name"], json!("Ada"));
        assert_eq!(b.variables["shop"], json!("x"));
        assert_eq!((b.not_before, b.accepted_at, b.attempt), (1_000, 500, 1));
        for (d, t) in m.deliveries.iter().zip(&tasks) {
            assert!(m.derives(d, t));
        }
        // Another delivery's task, or a different value, is not derived.
        assert!(!m.derives(&m.deliveries[0], &tasks[1]));
        let with = |key: &str, value: serde_json::Value| {
            let mut task = tasks[2].clone();
            let TaskEnvelope::DeliveryV1(t) = &mut task else {
                panic!("a delivery task")
            };
            t.variables.insert(key.into(), value);
            task
        };
        assert!(!m.derives(&m.deliveries[2], &with("code", json!(8))));
        assert!(!m.derives(&m.deliveries[2], &with("extra", json!(1))));
    }

    #[test]
    fn a_task_with_values_redacted_from_the_record_is_not_derived() {
        let mut m = message();
        let clear = m.merged_variables(&m.deliveries[2]);
        let task = m.first_task(&m.deliveries[2], clear);
        m.deliveries[2]
            .variables
            .insert("code".into(), json!(REDACTED));
        assert!(!m.derives(&m.deliveries[2], &task));
    }
}
