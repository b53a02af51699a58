//! The policy stage between dequeue and render: discard switches, preferences and
//! unsubscribes, content dedup, frequency caps, quiet hours. Each policy may let a task
//! through, filter it (terminal `filtered` with a reason) or defer it. The chain is empty
//! for now; later work adds policies without touching the dispatcher.

use async_trait::async_trait;
use herald_domain::DeliveryTask;

/// What a policy decides for one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDecision {
    Continue,
    /// Never send: the delivery ends `filtered` with this reason.
    Filter(String),
    /// Not now: retry at this time (ms), e.g. after quiet hours end.
    DeferUntil(i64),
}

#[async_trait]
pub trait Policy: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    async fn check(&self, task: &DeliveryTask) -> PolicyDecision;
}

/// Runs policies in order; the first decision other than `Continue` wins.
#[derive(Default, Clone)]
pub struct PolicyChain {
    policies: Vec<std::sync::Arc<dyn Policy>>,
}

impl PolicyChain {
    pub fn new(policies: Vec<std::sync::Arc<dyn Policy>>) -> Self {
        Self { policies }
    }

    pub async fn check(&self, task: &DeliveryTask) -> PolicyDecision {
        for p in &self.policies {
            let d = p.check(task).await;
            if d != PolicyDecision::Continue {
                tracing::debug!(policy = p.name(), delivery = %task.delivery_id, decision = ?d, "policy decided");
                return d;
            }
        }
        PolicyDecision::Continue
    }
}
