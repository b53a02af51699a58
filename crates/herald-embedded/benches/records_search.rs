//! Search latency of the SQLite records store over many deliveries: seeds accepted messages and
//! their delivered/failed results in batches of 1,000 (the writes the intake and the result
//! consumer do), then times one page of each typical search and prints hits and latency.
//!
//! `cargo bench -p herald-embedded --bench records_search` (`HERALD_SCALE_DELIVERIES`, default
//! 200,000; a multiple of 1,000).

use herald_domain::{
    AccountId, AppId, ChannelKind, Delivery, DeliveryId, DeliveryState, EventVersion, Message,
    MessageId, Priority, Receiver, ResultEvent, ResultKind, TemplateId,
};
use herald_embedded::records::{self, SqliteRecords};
use herald_embedded::{Db, DbOptions, catalog};
use herald_ports::{Records, SearchFilter};
use std::error::Error;
use std::time::Instant;

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Words of the rendered content, Chinese and English, so FTS sees both scripts.
const WORDS: [&str; 8] = [
    "短信",
    "验证码",
    "订单",
    "发货",
    "invoice",
    "refund",
    "notice",
    "提醒",
];
/// `created_at` of the first seeded message; each next one is 1 ms later.
const EPOCH_MS: i64 = 1_700_000_000_000;

fn main() -> BenchResult<()> {
    let total: usize = std::env::var("HERALD_SCALE_DELIVERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(total - total % 1000))
}

/// Message `n` and the result event that settles its one delivery (every 50th failed).
fn seeded(n: usize, app: &AppId, templates: &[TemplateId]) -> (Message, ResultEvent) {
    let delivery = DeliveryId::generate();
    let message = Message {
        id: MessageId::generate(),
        app_id: app.clone(),
        template_id: templates[n % templates.len()].clone(),
        template_version: 1,
        channel: ChannelKind::AliyunSms,
        account_id: AccountId::from_trusted("acc_scale"),
        priority: Priority::Normal,
        send_at: None,
        expire_at: None,
        created_at: EPOCH_MS + n as i64,
        variables: Default::default(),
        deliveries: vec![Delivery {
            id: delivery.clone(),
            receiver: Receiver::to(format!("138{n:08}")),
            variables: Default::default(),
        }],
    };
    let state = if n.is_multiple_of(50) {
        DeliveryState::Failed
    } else {
        DeliveryState::Delivered
    };
    let event = ResultEvent {
        app_id: app.clone(),
        message_id: message.id.clone(),
        delivery_id: delivery,
        version: EventVersion::new(1, state),
        state,
        kind: ResultKind::Dispatch,
        at: message.created_at + 5,
        code: None,
        detail: None,
        next_at: None,
        content: Some(format!(
            "{}{} 用户{n} order {}",
            WORDS[n % WORDS.len()],
            WORDS[(n / 7) % WORDS.len()],
            n % 9973
        )),
        attempt: None,
    };
    (message, event)
}

async fn run(total: usize) -> BenchResult<()> {
    let dir = tempfile::tempdir()?;
    let db = Db::open(
        &dir.path().join("herald.db"),
        &[catalog::SCHEMA, records::SCHEMA],
        DbOptions {
            durable: false,
            ..Default::default()
        },
    )?;
    let records = SqliteRecords::new(db);
    let app = AppId::generate();
    let templates: Vec<TemplateId> = (0..20).map(|_| TemplateId::generate()).collect();
    let started = Instant::now();
    for chunk in 0..total / 1000 {
        let (messages, events): (Vec<_>, Vec<_>) = (chunk * 1000..(chunk + 1) * 1000)
            .map(|n| seeded(n, &app, &templates))
            .unzip();
        records.record_accepted(messages).await?;
        records.apply(events).await?;
    }
    println!(
        "seeded {total} deliveries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let middle = EPOCH_MS + total as i64 / 2;
    let filters = [
        ("newest page", SearchFilter::default()),
        (
            "failed",
            SearchFilter {
                states: vec![DeliveryState::Failed],
                ..Default::default()
            },
        ),
        (
            "receiver",
            SearchFilter {
                receiver: Some(format!("138{:08}", total / 2)),
                ..Default::default()
            },
        ),
        (
            "rare text",
            SearchFilter {
                text: Some(format!("用户{}", total / 3)),
                ..Default::default()
            },
        ),
        (
            "common text, narrow window",
            SearchFilter {
                text: Some("短信".into()),
                from: Some(middle),
                to: Some(middle + 1000),
                ..Default::default()
            },
        ),
        (
            "common text",
            SearchFilter {
                text: Some("短信".into()),
                ..Default::default()
            },
        ),
        (
            "common text, rare state",
            SearchFilter {
                text: Some("短信".into()),
                states: vec![DeliveryState::Failed],
                ..Default::default()
            },
        ),
    ];
    for (name, filter) in filters {
        let started = Instant::now();
        let page = records.search(&app, &filter, None, 50).await?;
        println!(
            "{name:>28}: {:>5} hits in {:.2} ms",
            page.hits.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        if page.hits.is_empty() {
            return Err(format!("{name} found nothing").into());
        }
    }
    Ok(())
}
