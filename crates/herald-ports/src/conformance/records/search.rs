//! Records checks for search: every filter, the page cursor, and full text in English and
//! Chinese (including a two-character query).

use super::fixtures::{dlv, event, message, with_content};
use super::{RecordsHarness, seed};
use crate::records::{SearchFilter, SearchHit};
use herald_domain::DeliveryState::*;
use herald_domain::{AccountId, AppId, ChannelKind, DeliveryId, Message, TemplateId};
use std::collections::HashSet;

/// Three messages at three times, two templates, two channels and accounts, five
/// deliveries with content; returns them oldest first.
async fn seed_corpus(harness: &dyn RecordsHarness, app: &AppId) -> [Message; 3] {
    let webhook_template = TemplateId::generate();
    let webhook_account = AccountId::generate();
    let mut old = message(app, 1_000, &["r1", "r2"]);
    old.template_id = webhook_template.clone();
    old.account_id = webhook_account.clone();
    let mut mid = message(app, 2_000, &["a@example.com", "b@example.com"]);
    mid.channel = ChannelKind::Email;
    let mut new = message(app, 3_000, &["r3"]);
    new.template_id = webhook_template;
    new.account_id = webhook_account;
    seed(harness, &[old.clone(), mid.clone(), new.clone()]).await;
    let mut failed = with_content(
        event(&old, &dlv(&old, 1), 1, Failed),
        "您的短信验证码是 123456",
    );
    failed.code = Some("isv.MOBILE_NUMBER_ILLEGAL".into());
    let events = vec![
        with_content(
            event(&old, &dlv(&old, 0), 1, Delivered),
            "Your Invoice INV-42 is ready",
        ),
        failed,
        with_content(event(&mid, &dlv(&mid, 0), 1, Sent), "短信通知：订单已发货"),
        with_content(event(&mid, &dlv(&mid, 1), 1, Sent), "Order shipped"),
        with_content(
            event(&new, &dlv(&new, 0), 1, Sending),
            "中国人民银行 notice",
        ),
    ];
    assert_eq!(harness.records().apply(events).await.unwrap(), 5);
    [old, mid, new]
}

/// All hits of a search (one page of up to 1000), as delivery ids, checking order.
async fn search_ids(
    harness: &dyn RecordsHarness,
    app: &AppId,
    filter: SearchFilter,
) -> HashSet<DeliveryId> {
    let page = harness
        .records()
        .search(app, &filter, None, 1000)
        .await
        .unwrap();
    assert_newest_first(&page.hits);
    assert_eq!(page.next_cursor, None, "one page holds everything");
    page.hits.into_iter().map(|h| h.delivery_id).collect()
}

fn assert_newest_first(hits: &[SearchHit]) {
    assert!(
        hits.windows(2).all(|w| w[0].created_at >= w[1].created_at),
        "hits are newest first: {:?}",
        hits.iter().map(|h| h.created_at).collect::<Vec<_>>()
    );
}

fn ids<'a>(pairs: impl IntoIterator<Item = (&'a Message, usize)>) -> HashSet<DeliveryId> {
    pairs.into_iter().map(|(m, i)| dlv(m, i)).collect()
}

/// Each filter alone and in combination selects exactly the matching deliveries.
pub async fn search_filters(harness: &dyn RecordsHarness) {
    let app = AppId::generate();
    let [old, mid, new] = seed_corpus(harness, &app).await;
    let all = ids([(&old, 0), (&old, 1), (&mid, 0), (&mid, 1), (&new, 0)]);
    let f = SearchFilter::default;
    assert_eq!(search_ids(harness, &app, f()).await, all, "no filter: all");

    let page = harness
        .records()
        .search(&app, &f(), None, 1000)
        .await
        .unwrap();
    assert_eq!(
        page.hits[0].delivery_id,
        dlv(&new, 0),
        "the newest comes first"
    );
    let hit = page
        .hits
        .iter()
        .find(|h| h.delivery_id == dlv(&old, 1))
        .unwrap();
    assert_eq!(
        (
            &hit.message_id,
            &hit.template_id,
            hit.channel,
            &hit.account_id
        ),
        (&old.id, &old.template_id, old.channel, &old.account_id),
        "a hit carries its message's facts"
    );
    assert_eq!(
        (hit.receiver.as_str(), hit.state, hit.code.as_deref()),
        ("r2", Failed, Some("isv.MOBILE_NUMBER_ILLEGAL"))
    );
    assert_eq!(hit.content.as_deref(), Some("您的短信验证码是 123456"));
    assert_eq!(hit.created_at, 1_000);

    let cases = [
        (
            SearchFilter {
                states: vec![Delivered, Failed],
                ..f()
            },
            ids([(&old, 0), (&old, 1)]),
            "states (any of)",
        ),
        (
            SearchFilter {
                states: vec![Sent],
                ..f()
            },
            ids([(&mid, 0), (&mid, 1)]),
            "one state",
        ),
        (
            SearchFilter {
                template_id: Some(old.template_id.clone()),
                ..f()
            },
            ids([(&old, 0), (&old, 1), (&new, 0)]),
            "template",
        ),
        (
            SearchFilter {
                channel: Some(ChannelKind::Email),
                ..f()
            },
            ids([(&mid, 0), (&mid, 1)]),
            "channel",
        ),
        (
            SearchFilter {
                account_id: Some(mid.account_id.clone()),
                ..f()
            },
            ids([(&mid, 0), (&mid, 1)]),
            "account",
        ),
        (
            SearchFilter {
                message_id: Some(old.id.clone()),
                ..f()
            },
            ids([(&old, 0), (&old, 1)]),
            "message",
        ),
        (
            SearchFilter {
                receiver: Some("r1".into()),
                ..f()
            },
            ids([(&old, 0)]),
            "receiver",
        ),
        (
            SearchFilter {
                receiver: Some("r".into()),
                ..f()
            },
            ids([]),
            "receiver is exact, not a prefix",
        ),
        (
            SearchFilter {
                from: Some(2_000),
                ..f()
            },
            ids([(&mid, 0), (&mid, 1), (&new, 0)]),
            "from is inclusive",
        ),
        (
            SearchFilter {
                to: Some(2_000),
                ..f()
            },
            ids([(&old, 0), (&old, 1)]),
            "to is exclusive",
        ),
        (
            SearchFilter {
                from: Some(1_500),
                to: Some(3_000),
                ..f()
            },
            ids([(&mid, 0), (&mid, 1)]),
            "a time window",
        ),
        (
            SearchFilter {
                template_id: Some(old.template_id.clone()),
                states: vec![Sending, Failed],
                from: Some(1_000),
                ..f()
            },
            ids([(&old, 1), (&new, 0)]),
            "filters combine with AND",
        ),
    ];
    for (filter, expected, what) in cases {
        assert_eq!(search_ids(harness, &app, filter).await, expected, "{what}");
    }
}

/// Full text: English (case-insensitive), Chinese of two and more characters, combined
/// with other filters.
pub async fn text_search(harness: &dyn RecordsHarness) {
    let app = AppId::generate();
    let [old, mid, new] = seed_corpus(harness, &app).await;
    let text = |q: &str| SearchFilter {
        text: Some(q.into()),
        ..Default::default()
    };
    let cases = [
        (text("invoice"), ids([(&old, 0)]), "an English word"),
        (text("INVOICE"), ids([(&old, 0)]), "case-insensitive"),
        (
            text("inv-42"),
            ids([(&old, 0)]),
            "punctuation inside a query",
        ),
        (text("shipped"), ids([(&mid, 1)]), "another English word"),
        (
            text("短信"),
            ids([(&old, 1), (&mid, 0)]),
            "a two-character Chinese word",
        ),
        (text("验证码"), ids([(&old, 1)]), "three Chinese characters"),
        (
            text("中国人民银行"),
            ids([(&new, 0)]),
            "a long Chinese phrase",
        ),
        (
            text("订单已发货"),
            ids([(&mid, 0)]),
            "a phrase after punctuation",
        ),
        (text("人民币"), ids([]), "a phrase absent from the text"),
        (text("SHIP"), ids([(&mid, 1)]), "the last word is a prefix"),
        (
            text("order sh"),
            ids([(&mid, 1)]),
            "a phrase ending in a prefix",
        ),
        (
            text("inv"),
            ids([(&old, 0)]),
            "a prefix of two words of one text",
        ),
        (
            text("信"),
            ids([(&old, 1), (&mid, 0)]),
            "one Chinese character starting a bigram",
        ),
        (text("zz"), ids([]), "a prefix of no word"),
        (
            SearchFilter {
                to: Some(2_000),
                ..text("短信")
            },
            ids([(&old, 1)]),
            "text before a time",
        ),
        (text("refund"), ids([]), "an absent word"),
        (
            SearchFilter {
                states: vec![Failed],
                ..text("短信")
            },
            ids([(&old, 1)]),
            "text combined with a state",
        ),
        (
            SearchFilter {
                channel: Some(ChannelKind::Email),
                from: Some(2_000),
                ..text("短信")
            },
            ids([(&mid, 0)]),
            "text combined with channel and time",
        ),
    ];
    for (filter, expected, what) in cases {
        assert_eq!(search_ids(harness, &app, filter).await, expected, "{what}");
    }
}

/// A delivery's text is its latest content: a retry that renders again replaces what the
/// earlier attempt indexed, also when both events arrive in one batch.
pub async fn rerendered_content_replaces_the_text(harness: &dyn RecordsHarness) {
    let app = AppId::generate();
    let m = message(&app, 1_000, &["x1", "x2"]);
    seed(harness, std::slice::from_ref(&m)).await;
    let (d0, d1) = (dlv(&m, 0), dlv(&m, 1));
    let records = harness.records();
    records
        .apply(vec![
            with_content(event(&m, &d0, 1, Retrying), "alpha draft"),
            with_content(event(&m, &d1, 1, Retrying), "bravo draft"),
            with_content(event(&m, &d1, 2, Delivered), "charlie final"),
        ])
        .await
        .unwrap();
    records
        .apply(vec![with_content(
            event(&m, &d0, 2, Delivered),
            "delta final",
        )])
        .await
        .unwrap();
    let text = |q: &str| SearchFilter {
        text: Some(q.into()),
        ..Default::default()
    };
    for (q, expected, what) in [
        ("alpha", ids([]), "the first attempt's text is gone"),
        ("delta", ids([(&m, 0)]), "the retry's text is found"),
        ("bravo", ids([]), "the earlier text of one batch is gone"),
        (
            "charlie",
            ids([(&m, 1)]),
            "the later text of one batch is found",
        ),
        ("final", ids([(&m, 0), (&m, 1)]), "each delivery once"),
    ] {
        assert_eq!(search_ids(harness, &app, text(q)).await, expected, "{what}");
    }
}

/// Walking pages with the cursor returns every hit exactly once, newest first, also when
/// many deliveries share a millisecond, with and without a text filter.
pub async fn pagination_is_complete_and_disjoint(harness: &dyn RecordsHarness) {
    let app = AppId::generate();
    let mut messages = Vec::new();
    for (i, created_at) in [1_000, 1_000, 1_000, 2_000, 2_000, 3_000, 4_000, 4_000]
        .into_iter()
        .enumerate()
    {
        let receivers = vec!["same-receiver"; 1 + i % 4];
        messages.push(message(&app, created_at, &receivers));
    }
    seed(harness, &messages).await;
    let events: Vec<_> = messages
        .iter()
        .flat_map(|m| {
            m.deliveries
                .iter()
                .map(|d| with_content(event(m, &d.id, 1, Sent), "短信 page test"))
        })
        .collect();
    let total = events.len();
    harness.records().apply(events).await.unwrap();
    let all: HashSet<DeliveryId> = messages
        .iter()
        .flat_map(|m| m.deliveries.iter().map(|d| d.id.clone()))
        .collect();

    for (filter, limit) in [
        (SearchFilter::default(), 5),
        (SearchFilter::default(), 1),
        (
            SearchFilter {
                receiver: Some("same-receiver".into()),
                ..Default::default()
            },
            4,
        ),
        (
            SearchFilter {
                text: Some("短信".into()),
                ..Default::default()
            },
            3,
        ),
        (SearchFilter::default(), total),
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for page_number in 0.. {
            assert!(page_number <= total, "pagination terminates");
            let page = harness
                .records()
                .search(&app, &filter, cursor.as_deref(), limit)
                .await
                .unwrap();
            assert!(
                page.hits.len() <= limit,
                "a page holds at most `limit` hits"
            );
            seen.extend(page.hits);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_newest_first(&seen);
        let unique: HashSet<DeliveryId> = seen.iter().map(|h| h.delivery_id.clone()).collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "no hit repeats ({filter:?}, {limit})"
        );
        assert_eq!(unique, all, "no hit is skipped ({filter:?}, {limit})");
    }
}
