//! What the simulator sent: one [`SentSms`] per accepted number, the source of
//! QuerySendDetails answers, receipt pushes and `GET /sim/aliyun/messages`. Bounded to the
//! last [`KEPT_MESSAGES`].

use crate::sms::clock::{china_time, send_date};
use crate::sms::limits::normalize_number;
use herald_domain::Millis;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::VecDeque;

/// Messages kept (oldest dropped first).
pub const KEPT_MESSAGES: usize = 50_000;

/// One accepted message to one number.
#[derive(Debug, Clone, Serialize)]
pub struct SentSms {
    pub access_key_id: String,
    pub action: &'static str,
    pub biz_id: String,
    /// As sent.
    pub phone_number: String,
    pub sign_name: String,
    pub template_code: String,
    /// `TemplateParam` JSON (`{}` without parameters).
    pub template_param: String,
    /// Empty for SendBatchSms (it has no OutId).
    pub out_id: String,
    pub sent_at_ms: Millis,
    /// When the receipt is due; before it the send is `SendStatus` 1.
    pub report_at_ms: Millis,
    pub delivered: bool,
}

impl SentSms {
    fn err_code(&self) -> &'static str {
        if self.delivered {
            "DELIVERED"
        } else {
            "MOBILE_NOT_ON_SERVICE"
        }
    }

    /// QuerySendDetails `SendStatus`: 1 waiting, 2 failed, 3 delivered.
    pub fn send_status(&self, now: Millis) -> u8 {
        match (now >= self.report_at_ms, self.delivered) {
            (false, _) => 1,
            (true, true) => 3,
            (true, false) => 2,
        }
    }

    /// The rendered text as QuerySendDetails shows it.
    fn content(&self) -> String {
        format!(
            "【{}】{} {}",
            self.sign_name, self.template_code, self.template_param
        )
    }

    /// One `SmsSendDetailDTO`.
    pub fn detail(&self, now: Millis) -> Value {
        let status = self.send_status(now);
        json!({
            "PhoneNum": self.phone_number,
            "SendStatus": status,
            "ErrCode": if status == 1 { "" } else { self.err_code() },
            "TemplateCode": self.template_code,
            "Content": self.content(),
            "SendDate": china_time(self.sent_at_ms),
            "ReceiveDate": if status == 1 { String::new() } else { china_time(self.report_at_ms) },
            "OutId": self.out_id,
        })
    }

    /// One item of the receipt push.
    pub fn report(&self) -> Value {
        json!({
            "phone_number": self.phone_number,
            "send_time": china_time(self.sent_at_ms),
            "report_time": china_time(self.report_at_ms),
            "success": self.delivered,
            "err_code": self.err_code(),
            "err_msg": if self.delivered { "用户接收成功" } else { "用户停机" },
            "sms_size": "1",
            "biz_id": self.biz_id,
            "out_id": self.out_id,
        })
    }
}

#[derive(Debug, Default)]
pub(super) struct SendLog {
    items: VecDeque<SentSms>,
}

impl SendLog {
    pub fn push(&mut self, sms: SentSms) {
        if self.items.len() >= KEPT_MESSAGES {
            self.items.pop_front();
        }
        self.items.push_back(sms);
    }

    /// The last `limit` messages (to `phone` when given), oldest first.
    pub fn last(&self, limit: usize, phone: Option<&str>) -> Vec<SentSms> {
        let phone = phone.map(normalize_number);
        let mut found: Vec<SentSms> = self
            .items
            .iter()
            .rev()
            .filter(|s| {
                phone
                    .as_ref()
                    .is_none_or(|p| normalize_number(&s.phone_number) == *p)
            })
            .take(limit)
            .cloned()
            .collect();
        found.reverse();
        found
    }

    /// QuerySendDetails: the account's messages to `phone` on China day `date` (`yyyyMMdd`),
    /// optionally of one BizId, newest first.
    pub fn query(
        &self,
        access_key_id: &str,
        phone: &str,
        date: &str,
        biz_id: Option<&str>,
    ) -> Vec<SentSms> {
        let phone = normalize_number(phone);
        self.items
            .iter()
            .rev()
            .filter(|s| {
                s.access_key_id == access_key_id
                    && normalize_number(&s.phone_number) == phone
                    && send_date(s.sent_at_ms) == date
                    && biz_id.is_none_or(|b| b == s.biz_id)
            })
            .cloned()
            .collect()
    }
}
