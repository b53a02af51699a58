//! The records conformance suite against [`SearchRecords`] on the in-process fake
//! Elasticsearch, plus the behaviours the suite cannot see: per-item bulk retries, version
//! conflicts, strict NDJSON and the receipt-side lookups.

mod common;

use common::{Harness, fast_options};
use herald_store_search::SearchRecords;
use herald_store_search::fake::FakeElasticsearch;

#[tokio::test]
async fn records_conformance_on_the_fake() {
    let fake = FakeElasticsearch::start().await.unwrap();
    let records = SearchRecords::connect(&fake.url(), fast_options("conf"))
        .await
        .unwrap();
    herald_ports::conformance::records::run_all(&Harness { records }).await;
}
