//! Provider receipts (delivery reports) arriving after a send: Aliyun SmsReport pushes and
//! QuerySendDetails polls, WeChat TEMPLATESENDJOBFINISH events, … Channel crates parse the
//! provider's payload into [`ProviderReceipt`]s and hand them to a [`ReceiptSink`]; the engine
//! turns them into result events (so a receipt never overwrites a newer state).

use crate::error::StoreError;
use async_trait::async_trait;
use herald_domain::{ChannelKind, DeliveryId, Millis};

/// What a provider reported about one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderReceipt {
    pub channel: ChannelKind,
    /// Herald's delivery id when the provider echoes it (Aliyun `out_id`, …).
    pub delivery_id: Option<DeliveryId>,
    /// The provider's id of the send (Aliyun `biz_id`, WeChat `MsgID`), as recorded in the
    /// attempt's `provider_request_id`.
    pub provider_id: Option<String>,
    /// The receiver as the provider reports it (needed where one provider id covers a batch).
    pub receiver: Option<String>,
    pub delivered: bool,
    /// Provider status code (`DELIVERED`, `failed:user block`, …).
    pub code: Option<String>,
    pub message: Option<String>,
    pub at: Millis,
}

#[async_trait]
pub trait ReceiptSink: Send + Sync + 'static {
    /// Records the receipts durably; unknown ones are ignored (receipts arrive at least once,
    /// possibly for sends this Herald never made). Returns how many matched a delivery.
    async fn receipts(&self, receipts: Vec<ProviderReceipt>) -> Result<usize, StoreError>;
}
