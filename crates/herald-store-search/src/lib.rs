//! Herald's [`Records`] port on the Elasticsearch/OpenSearch REST API, over plain `reqwest`.
//!
//! - **Whole documents, external versions.** Each delivery is one document whose `_version`
//!   is its [`EventVersion::as_u64`](herald_domain::EventVersion::as_u64)
//!   (`version_type=external`, decision 0003): ES itself refuses a version not above the
//!   stored one with 409, so an older event never wins, whichever node writes it and in
//!   whatever order. A 409 is read as "not newer", never as an error.
//! - **Content is kept by read-modify-write.** A receipt carries no content, and a whole
//!   document written from it alone would erase the rendered text. [`Records::apply`] reads
//!   the current documents (`_mget`, realtime), folds the batch's events into them in memory
//!   and writes the result under the winning event's version. ES does not allow
//!   `if_seq_no`/`if_primary_term` together with `version_type=external`, and the external
//!   version is what orders writers that never read; so the version is the guard. What this
//!   leaves: two writers racing on one delivery, the newer one without content having read
//!   before the older one's content landed, can drop that content (never the state). Herald
//!   applies results from one results consumer per partition, and content arrives with the
//!   first `sending` event long before its receipt, so the window is not hit in practice.
//! - **Attempts are separate documents** (`<delivery>:<attempt>`, `op_type=create`, 409 =
//!   already there), so a late attempt's log is kept even when its state loses.
//! - **`_bulk` with per-item retries** ([`bulk`]): only items answered 429/5xx are resent.
//! - **Search** translates [`SearchFilter`](herald_ports::SearchFilter) into a `bool` filter
//!   plus a phrase query over Herald's CJK bigram tokens ([`search`]).
//!
//! With the `fake` feature, [`fake`] serves an in-process fake ES for tests.

pub mod bulk;
pub mod client;
mod docs;
pub mod mapping;
mod read;
mod search;
mod write;

#[cfg(feature = "fake")]
pub mod fake;

pub use bulk::{BulkOp, ItemOutcome, Refresh, RetryPolicy};
pub use client::{EsClient, EsError};
pub use mapping::IndexNames;

use async_trait::async_trait;
use herald_domain::{AppId, DeliveryId, Message, MessageId, Millis, ResultEvent};
use herald_ports::{
    AwaitingReceipt, DeliveryRef, MessageView, Records, SearchFilter, SearchPage, StoreError,
    StoredState,
};
use reqwest::Method;
use std::collections::HashMap;
use std::time::Duration;

/// How to reach and use the cluster.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Prefix of the three index names (see [`IndexNames`]).
    pub index_prefix: String,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    pub refresh: Refresh,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            index_prefix: "herald".into(),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            refresh: Refresh::WaitFor,
        }
    }
}

/// [`Records`] on Elasticsearch/OpenSearch.
#[derive(Debug, Clone)]
pub struct SearchRecords {
    client: EsClient,
    names: IndexNames,
    options: SearchOptions,
}

impl SearchRecords {
    /// Connects to the cluster at `url`, installs the index templates and creates the
    /// indices when missing (idempotent; several nodes may do it at once).
    pub async fn connect(url: &str, options: SearchOptions) -> Result<Self, StoreError> {
        let client = EsClient::new(url, options.request_timeout)?;
        let records = Self {
            client,
            names: IndexNames::new(&options.index_prefix),
            options,
        };
        records.install().await?;
        Ok(records)
    }

    pub fn index_names(&self) -> &IndexNames {
        &self.names
    }

    async fn install(&self) -> Result<(), StoreError> {
        for (name, body) in self.names.templates() {
            self.client
                .expect_ok(
                    Method::PUT,
                    &format!("/_index_template/{name}"),
                    Some(&body),
                )
                .await
                .map_err(|e| e.into_store_error("installing an index template"))?;
        }
        for index in self.names.all() {
            let path = format!("/{index}");
            let (status, body) = self
                .client
                .send(Method::PUT, &path, None)
                .await
                .map_err(|e| e.into_store_error("creating an index"))?;
            let exists = body["error"]["type"] == "resource_already_exists_exception";
            if !status.is_success() && !exists {
                return Err(client::status_error(&Method::PUT, &path, status, &body)
                    .into_store_error("creating an index"));
            }
        }
        Ok(())
    }

    /// Records accepted messages as an intake does at accept time: the message document and
    /// one delivery document per receiver at version `(0, accepted|scheduled)`. Recording the
    /// same messages again changes nothing (creates and versions answer 409).
    pub async fn record_accepted(&self, messages: &[Message]) -> Result<(), StoreError> {
        write::record_accepted(self, messages).await
    }

    async fn bulk(&self, ops: &[BulkOp]) -> Result<Vec<ItemOutcome>, StoreError> {
        bulk::run_bulk(&self.client, ops, self.options.retry, self.options.refresh)
            .await
            .map_err(|e| e.into_store_error("bulk write"))
    }
}

#[async_trait]
impl Records for SearchRecords {
    async fn apply(&self, events: Vec<ResultEvent>) -> Result<usize, StoreError> {
        write::apply(self, events).await
    }

    async fn get_message(
        &self,
        app: &AppId,
        id: &MessageId,
    ) -> Result<Option<MessageView>, StoreError> {
        read::get_message(self, app, id).await
    }

    async fn delivery_states(
        &self,
        ids: &[DeliveryId],
    ) -> Result<HashMap<DeliveryId, StoredState>, StoreError> {
        read::delivery_states(self, ids).await
    }

    async fn find_delivery(&self, id: &DeliveryId) -> Result<Option<DeliveryRef>, StoreError> {
        let doc = read::deliveries(self, std::slice::from_ref(id)).await?;
        Ok(doc.into_iter().flatten().next().map(|d| d.delivery_ref()))
    }

    async fn find_by_provider_id(
        &self,
        provider_id: &str,
        receiver: Option<&str>,
    ) -> Result<Option<DeliveryRef>, StoreError> {
        read::find_by_provider_id(self, provider_id, receiver).await
    }

    async fn awaiting_receipts(
        &self,
        since: Millis,
        until: Millis,
        limit: usize,
    ) -> Result<Vec<AwaitingReceipt>, StoreError> {
        read::awaiting_receipts(self, since, until, limit).await
    }

    async fn search(
        &self,
        app: &AppId,
        filter: &SearchFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SearchPage, StoreError> {
        search::search(self, app, filter, cursor, limit).await
    }
}
