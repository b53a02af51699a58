//! The receipt endpoint on its own: Aliyun's JSON array, duplicates, bad bodies.

use crate::support::*;
use herald_domain::DeliveryId;
use serde_json::{Value, json};

async fn post(sim: &Sim, body: &str) -> (u16, Value) {
    let response = sim
        .http
        .post(format!("{}/callbacks/aliyun/sms/report", sim.base))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn pushed_reports_become_receipts_duplicates_included() {
    let sim = Sim::start().await;
    let id = DeliveryId::generate();
    let item = json!({
        "phone_number": "13800138000", "send_time": "2024-02-01 00:30:00",
        "report_time": "2024-02-01 00:30:05", "success": true, "err_code": "DELIVERED",
        "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "900619746936498440^0", "out_id": id.as_str(),
    });
    let body = Value::Array(vec![item.clone(), item]).to_string();
    let (status, answer) = post(&sim, &body).await;
    assert_eq!((status, answer), (200, json!({ "code": 0, "msg": "成功" })));
    let receipts = sim.wait_receipts(2).await;
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[0], receipts[1]);
    assert_eq!(receipts[0].delivery_id.as_ref(), Some(&id));
    assert_eq!(
        receipts[0].at, 1_706_718_605_000,
        "report_time is China time"
    );

    let (status, answer) = post(&sim, r#"{"not": "an array"}"#).await;
    assert_eq!((status, answer["code"].as_i64()), (400, Some(1)));
}
