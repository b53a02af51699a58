//! What travels through RocketMQ: the task as JSON in the message body (its dedup key as
//! the message key, so the RocketMQ console finds it), and the receipt Herald gets back:
//! the queue offset it was read at and the task's key, which is what the ledger settles.

use herald_domain::TaskEnvelope;
use herald_ports::{Receipt, StoreError, Topic};

pub(crate) fn encode(task: &TaskEnvelope) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(task).map_err(|e| StoreError::backend("encoding a queue task", e))
}

pub(crate) fn decode(body: &[u8]) -> Result<TaskEnvelope, StoreError> {
    serde_json::from_slice(body)
        .map_err(|e| StoreError::Corrupt(format!("queue task on RocketMQ is not a task: {e}")))
}

/// A receipt for a task read from `topic` at `queue_offset`.
pub(crate) fn receipt(topic: Topic, queue_offset: i64, key: &str) -> Receipt {
    Receipt {
        topic,
        token: queue_offset.max(0) as u64,
        handle: Some(key.to_owned()),
    }
}

/// The task key inside a receipt this queue handed out.
pub(crate) fn parse_receipt(receipt: &Receipt) -> Result<&str, StoreError> {
    receipt.handle.as_deref().ok_or_else(|| {
        StoreError::InvalidInput(format!(
            "receipt {receipt:?} was not handed out by the RocketMQ queue"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::{AppId, Priority};
    use herald_ports::conformance::queue::delivery_task;

    #[test]
    fn receipts_carry_offset_and_key() {
        let r = receipt(Topic::Retry, 42, "dlv_x:2");
        assert_eq!(r.token, 42);
        assert_eq!(parse_receipt(&r).unwrap(), "dlv_x:2");
        let foreign = Receipt {
            topic: Topic::Send,
            token: 1,
            handle: None,
        };
        assert!(matches!(
            parse_receipt(&foreign),
            Err(StoreError::InvalidInput(_))
        ));
    }

    #[test]
    fn tasks_round_trip() {
        let task = delivery_task(&AppId::generate(), Priority::High, 5);
        assert_eq!(decode(&encode(&task).unwrap()).unwrap(), task);
        assert!(matches!(decode(b"{}"), Err(StoreError::Corrupt(_))));
    }
}
