//! Search by status, template, receiver, time range and full text (Chinese included), with
//! sensitive variables absent from records and search.

use crate::harness::spawn_app;
use serde_json::{Value, json};

async fn q(app: &crate::harness::TestApp, query: &str) -> (u16, Value) {
    app.get(&format!("/v1/messages?{query}")).await
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["delivery_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_filters_and_chinese_text() {
    let app = spawn_app().await;
    let account = app.account("cn", &[10], 0).await;
    let tpl = app
        .template(
            "cn",
            "【Herald】{{ who }}，您的短信通知：{{ what }}",
            &[("who", false), ("what", false)],
            &account,
        )
        .await;
    let before = herald_domain::time::to_rfc3339(herald_domain::time::now_ms() - 1000);
    let mut msgs = Vec::new();
    for (who, what) in [
        ("张三", "订单已发货"),
        ("李四", "会议改期"),
        ("王五", "payment received"),
    ] {
        let (s, b) = app.post("/v1/messages", json!({"template": "cn", "receivers": [format!("user-{who}")], "variables": {"who": who, "what": what}})).await;
        assert_eq!(s, 202, "{b}");
        msgs.push(b["id"].as_str().unwrap().to_owned());
    }
    for id in &msgs {
        app.wait_all(id, "delivered").await;
    }
    let (s, all) = q(&app, &format!("template={tpl}")).await;
    assert_eq!(s, 200, "{all}");
    assert_eq!(ids(&all).len(), 3);
    assert_eq!(
        ids(&q(&app, "q=短信").await.1).len(),
        3,
        "two Chinese characters match"
    );
    assert_eq!(ids(&q(&app, "q=发货").await.1).len(), 1);
    assert_eq!(ids(&q(&app, "q=订单已发货").await.1).len(), 1);
    assert_eq!(ids(&q(&app, "q=会议").await.1).len(), 1);
    assert_eq!(ids(&q(&app, "q=payment").await.1).len(), 1);
    assert_eq!(ids(&q(&app, "q=不存在").await.1).len(), 0);
    assert_eq!(ids(&q(&app, "receiver=user-李四").await.1).len(), 1);
    assert_eq!(
        ids(&q(&app, "status=delivered&channel=webhook").await.1).len(),
        3
    );
    assert_eq!(ids(&q(&app, "status=failed").await.1).len(), 0);
    let after = herald_domain::time::to_rfc3339(herald_domain::time::now_ms() + 1000);
    let enc = |s: &str| s.replace('+', "%2B").replace(':', "%3A");
    assert_eq!(
        ids(&q(
            &app,
            &format!("from={}&to={}&template={tpl}", enc(&before), enc(&after))
        )
        .await
        .1)
        .len(),
        3
    );
    assert_eq!(
        ids(&q(&app, &format!("from={}", enc(&after))).await.1).len(),
        0
    );
    // Pagination: one per page, no duplicates, nothing missed.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("template={tpl}&limit=1&cursor={c}"),
            None => format!("template={tpl}&limit=1"),
        };
        let (_, page) = q(&app, &path).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) if !ids(&page).is_empty() => cursor = Some(c.to_owned()),
            _ => break,
        }
    }
    let (s, bad) = q(&app, "cursor=not-a-cursor").await;
    assert_eq!(
        (s, bad["error"]["field"].clone()),
        (422, json!("cursor")),
        "{bad}"
    );
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3);
    // The count of failed vocabulary moves is exported (0: none failed here; a move a
    // search asks for runs in the background, so this does not wait for one).
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("\nherald_search_vocab_move_failures_total 0\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_variables_never_reach_records_or_search() {
    let app = spawn_app().await;
    let account = app.account("otp", &[10], 0).await;
    app.template(
        "otp",
        "Your code is {{ code }}, {{ name }}",
        &[("code", true), ("name", false)],
        &account,
    )
    .await;
    let (s, body) = app.post("/v1/messages", json!({"template": "otp", "receivers": ["u"], "variables": {"code": "739154", "name": "Ann"}})).await;
    assert_eq!(s, 202, "{body}");
    let id = body["id"].as_str().unwrap();
    let done = app.wait_all(id, "delivered").await;
    let shown = done.to_string();
    assert!(!shown.contains("739154"), "{shown}");
    assert_eq!(done["variables"]["code"], "******");
    assert_eq!(done["deliveries"][0]["content"], "Your code is ******, Ann");
    assert_eq!(ids(&app.get("/v1/messages?q=739154").await.1).len(), 0);
    assert_eq!(ids(&app.get("/v1/messages?q=Ann").await.1).len(), 1);
    // The provider got the real code.
    let got = app.sim_received("otp").await;
    assert!(
        got.iter()
            .any(|r| r.to_string().contains("Your code is 739154")),
        "{got:?}"
    );
}
