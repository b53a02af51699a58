//! Stand-ins for the engine behind provider callback endpoints: a receipt sink that records
//! and an in-memory account directory.

use async_trait::async_trait;
use herald_domain::{AccountId, AppId};
use herald_ports::{AccountContext, AccountDirectory, ProviderReceipt, ReceiptSink, StoreError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Receipts handed to the engine, in arrival order.
#[derive(Default)]
pub struct RecordingSink {
    pub receipts: Mutex<Vec<ProviderReceipt>>,
}

impl RecordingSink {
    /// Waits until at least `n` receipts arrived or `within` passed; returns all received.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<ProviderReceipt> {
        let deadline = Instant::now() + within;
        loop {
            let receipts = self.receipts.lock().clone();
            if receipts.len() >= n || Instant::now() >= deadline {
                return receipts;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[async_trait]
impl ReceiptSink for RecordingSink {
    async fn receipts(&self, receipts: Vec<ProviderReceipt>) -> Result<usize, StoreError> {
        let count = receipts.len();
        self.receipts.lock().extend(receipts);
        Ok(count)
    }
}

/// Accounts by (app, id); empty until [`register`](Self::register)ed.
#[derive(Default)]
pub struct MemoryDirectory {
    accounts: Mutex<HashMap<(AppId, AccountId), Arc<AccountContext>>>,
}

impl MemoryDirectory {
    /// Makes `account` findable by its app and id.
    pub fn register(&self, account: &AccountContext) {
        self.accounts.lock().insert(
            (account.account.app_id.clone(), account.account.id.clone()),
            Arc::new(account.clone()),
        );
    }
}

#[async_trait]
impl AccountDirectory for MemoryDirectory {
    async fn account(&self, app: &AppId, id: &AccountId) -> Option<Arc<AccountContext>> {
        self.accounts
            .lock()
            .get(&(app.clone(), id.clone()))
            .cloned()
    }
}
