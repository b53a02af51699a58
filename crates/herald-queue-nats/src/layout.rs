//! Names of streams, consumers and subjects under one prefix.
//!
//! Per topic there are two work-queue streams: the *due* lane that workers pull from, and
//! (for send and retry) the *waiting* lane that holds tasks whose `not_before` lies ahead
//! until the timer moves them over. Subjects carry the app, the channel account and the
//! delivery: `{prefix}.send.<app>.<account>.<delivery>` and
//! `{prefix}.wait.send.<app>.<account>.<delivery>` (`_` for a result event's missing
//! account); dead letters live on `{prefix}.dead.<app>.<dead-letter id>`. The app and
//! account tokens leave room for consumers filtered by account; the delivery token lets
//! `cancel` find a queued task without reading the stream.

use herald_domain::{AppId, DeadLetterId, DeliveryId, TaskEnvelope};
use herald_ports::{StoreError, Topic};

/// Durable consumer that hands due tasks to workers (one per due stream).
pub(crate) const WORKERS: &str = "workers";
/// Durable consumer that moves waiting tasks once due (one per waiting stream).
pub(crate) const TIMER: &str = "timer";

/// Which stream of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Tasks that may be handed out now.
    Due,
    /// Tasks whose `not_before` is ahead.
    Waiting,
}

/// Topics that have a waiting lane (results are always due).
pub(crate) const DELAYED_TOPICS: [Topic; 2] = [Topic::Send, Topic::Retry];

/// Stream and subject names of one queue.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    prefix: String,
}

impl Layout {
    /// `prefix` must have passed `NatsQueueOptions::validate`.
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    pub(crate) fn stream(&self, topic: Topic, lane: Lane) -> String {
        let base = format!(
            "{}_{}",
            self.prefix.to_ascii_uppercase(),
            topic.as_str().to_ascii_uppercase()
        );
        match lane {
            Lane::Due => base,
            Lane::Waiting => format!("{base}_WAIT"),
        }
    }

    pub(crate) fn dead_stream(&self) -> String {
        format!("{}_DEAD", self.prefix.to_ascii_uppercase())
    }

    /// Every stream of this queue (for creation and deletion).
    pub(crate) fn all_streams(&self) -> Vec<String> {
        let mut names: Vec<String> = Topic::ALL
            .iter()
            .map(|t| self.stream(*t, Lane::Due))
            .collect();
        names.extend(
            DELAYED_TOPICS
                .iter()
                .map(|t| self.stream(*t, Lane::Waiting)),
        );
        names.push(self.dead_stream());
        names
    }

    /// The subject root of a lane: `{prefix}.send` or `{prefix}.wait.send`.
    pub(crate) fn root(&self, topic: Topic, lane: Lane) -> String {
        match lane {
            Lane::Due => format!("{}.{}", self.prefix, topic.as_str()),
            Lane::Waiting => format!("{}.wait.{}", self.prefix, topic.as_str()),
        }
    }

    /// The subject a task is stored under.
    pub(crate) fn task_subject(
        &self,
        topic: Topic,
        lane: Lane,
        task: &TaskEnvelope,
    ) -> Result<String, StoreError> {
        let account = task.account_id().map_or("_", |a| a.as_str());
        Ok(format!(
            "{}.{}.{}.{}",
            self.root(topic, lane),
            token(task.app_id().as_str())?,
            token(account)?,
            token(task.delivery_id().as_str())?
        ))
    }

    /// Matches the tasks of one delivery in a lane, whatever their account.
    pub(crate) fn delivery_filter(
        &self,
        topic: Topic,
        lane: Lane,
        app: &AppId,
        delivery: &DeliveryId,
    ) -> Result<String, StoreError> {
        Ok(format!(
            "{}.{}.*.{}",
            self.root(topic, lane),
            token(app.as_str())?,
            token(delivery.as_str())?
        ))
    }

    /// The due-lane subject of a task found on `waiting_subject`.
    pub(crate) fn due_subject_of(&self, waiting_subject: &str) -> Option<String> {
        let rest = waiting_subject
            .strip_prefix(&self.prefix)?
            .strip_prefix(".wait.")?;
        Some(format!("{}.{rest}", self.prefix))
    }

    pub(crate) fn dead_subject(
        &self,
        app: &AppId,
        id: &DeadLetterId,
    ) -> Result<String, StoreError> {
        Ok(format!(
            "{}.dead.{}.{}",
            self.prefix,
            token(app.as_str())?,
            token(id.as_str())?
        ))
    }

    pub(crate) fn dead_filter(&self, app: &AppId) -> Result<String, StoreError> {
        Ok(format!("{}.dead.{}.*", self.prefix, token(app.as_str())?))
    }

    pub(crate) fn dead_root(&self) -> String {
        format!("{}.dead", self.prefix)
    }
}

/// Accepts an id as one subject token (domain ids are `kind_<ulid>`; anything with a dot,
/// a wildcard or whitespace would change the subject's shape).
fn token(s: &str) -> Result<&str, StoreError> {
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(s)
    } else {
        Err(StoreError::InvalidInput(format!(
            "{s:?} cannot be a NATS subject token"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_ports::conformance::queue::{delivery_task, result_task};

    #[test]
    fn subjects_carry_app_account_and_delivery() {
        let layout = Layout::new("t1");
        let app = AppId::generate();
        let task = delivery_task(&app, herald_domain::Priority::Normal, 0);
        let subject = layout
            .task_subject(Topic::Send, Lane::Waiting, &task)
            .unwrap();
        let account = task.account_id().unwrap();
        assert_eq!(
            subject,
            format!("t1.wait.send.{app}.{account}.{}", task.delivery_id())
        );
        assert_eq!(
            layout.due_subject_of(&subject).unwrap(),
            format!("t1.send.{app}.{account}.{}", task.delivery_id())
        );
        let event = result_task(&app);
        let subject = layout
            .task_subject(Topic::Result, Lane::Due, &event)
            .unwrap();
        assert_eq!(
            subject,
            format!("t1.result.{app}._.{}", event.delivery_id())
        );
    }

    #[test]
    fn stream_names_are_distinct_and_prefixed() {
        let names = Layout::new("ab-c").all_streams();
        assert_eq!(
            names,
            [
                "AB-C_SEND",
                "AB-C_RETRY",
                "AB-C_RESULT",
                "AB-C_SEND_WAIT",
                "AB-C_RETRY_WAIT",
                "AB-C_DEAD"
            ]
        );
    }

    #[test]
    fn ids_that_would_break_a_subject_are_refused() {
        let layout = Layout::new("t");
        for bad in ["a.b", "a*", ">", "a b", ""] {
            let app = AppId::from_trusted(bad);
            assert!(layout.dead_filter(&app).is_err(), "{bad:?} accepted");
        }
    }
}
