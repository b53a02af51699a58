//! Sample values of the types the API serializes (templates, message views, search hits,
//! dead letters), with every optional part either filled (`full`) or absent, so both
//! shapes are checked against the documented schemas.

use herald_domain::task::AttemptLog;
use herald_domain::{
    AccountId, AppId, ChannelKind, DeadLetterId, Delivery, DeliveryId, DeliveryState, DeliveryTask,
    EventVersion, Message, MessageId, MessageStatus, Priority, Receiver, ResultEvent, ResultKind,
    TaskEnvelope, Template, TemplateContent, TemplateId, TemplateVersion, VariableSpec,
};
use herald_ports::{DeadLetter, DeliveryView, MessageView, SearchHit};
use serde_json::json;

pub const T0: i64 = 1_772_352_000_000;

pub fn id<T>(parse: fn(&str) -> Option<T>, prefix: &str) -> T {
    parse(&format!("{prefix}_01jnv2k3m4p5q6r7s8t9v0w1x2")).expect("valid id")
}

pub fn template() -> Template {
    Template {
        id: id(TemplateId::parse, "tpl"),
        app_id: id(AppId::parse, "app"),
        name: "otp".into(),
        channel: ChannelKind::AliyunSms,
        default_account_id: Some(id(AccountId::parse, "acc")),
        enabled: true,
        current_version: 2,
        created_at: T0,
        updated_at: T0 + 5,
    }
}

pub fn version() -> TemplateVersion {
    TemplateVersion {
        template_id: id(TemplateId::parse, "tpl"),
        version: 2,
        variables: vec![VariableSpec {
            name: "code".into(),
            sensitive: true,
        }],
        content: TemplateContent {
            title: Some("Code".into()),
            body: "Your code is {{ code }}".into(),
            fields: [("template_code".to_owned(), "SMS_1".to_owned())].into(),
        },
        created_at: T0,
    }
}

pub fn attempt() -> AttemptLog {
    AttemptLog {
        attempt: 1,
        at: T0 + 10,
        account_id: id(AccountId::parse, "acc"),
        latency_ms: 35,
        outcome: "retryable".into(),
        provider_request_id: Some("req-1".into()),
        code: Some("Throttling".into()),
        message: Some("too fast".into()),
    }
}

pub fn delivery_view(full: bool) -> DeliveryView {
    let receiver = Receiver {
        to: "13800138000".into(),
        timezone: full.then(|| "Asia/Shanghai".into()),
        locale: full.then(|| "zh-CN".into()),
    };
    DeliveryView {
        id: id(DeliveryId::parse, "dlv"),
        receiver,
        state: if full {
            DeliveryState::Retrying
        } else {
            DeliveryState::Accepted
        },
        version: EventVersion::new(1, DeliveryState::Retrying),
        code: full.then(|| "Throttling".into()),
        detail: full.then(|| "retry 1 of 4".into()),
        next_at: full.then_some(T0 + 1000),
        content: full.then(|| "Your code is ******".into()),
        updated_at: T0 + 20,
        attempts: if full { vec![attempt()] } else { vec![] },
    }
}

pub fn message_view(full: bool) -> MessageView {
    let d = delivery_view(full);
    MessageView {
        message: Message {
            id: id(MessageId::parse, "msg"),
            app_id: id(AppId::parse, "app"),
            template_id: id(TemplateId::parse, "tpl"),
            template_version: 2,
            channel: ChannelKind::AliyunSms,
            account_id: id(AccountId::parse, "acc"),
            priority: Priority::High,
            send_at: full.then_some(T0 + 60_000),
            expire_at: full.then_some(T0 + 120_000),
            created_at: T0,
            variables: [("code".to_owned(), json!("******"))].into(),
            deliveries: vec![Delivery {
                id: d.id.clone(),
                receiver: d.receiver.clone(),
                variables: Default::default(),
            }],
        },
        status: if full {
            MessageStatus::InProgress
        } else {
            MessageStatus::Accepted
        },
        deliveries: vec![d],
    }
}

pub fn hit(full: bool) -> SearchHit {
    SearchHit {
        message_id: id(MessageId::parse, "msg"),
        delivery_id: id(DeliveryId::parse, "dlv"),
        template_id: id(TemplateId::parse, "tpl"),
        channel: ChannelKind::Webhook,
        account_id: id(AccountId::parse, "acc"),
        receiver: "user-1".into(),
        state: DeliveryState::Failed,
        code: full.then(|| "400".into()),
        content: full.then(|| "您的验证码是 ******".into()),
        created_at: T0,
        updated_at: T0 + 1,
    }
}

pub fn task() -> DeliveryTask {
    DeliveryTask {
        app_id: id(AppId::parse, "app"),
        message_id: id(MessageId::parse, "msg"),
        delivery_id: id(DeliveryId::parse, "dlv"),
        template_id: id(TemplateId::parse, "tpl"),
        template_version: 2,
        channel: ChannelKind::Webhook,
        account_id: id(AccountId::parse, "acc"),
        receiver: Receiver::to("user-1"),
        variables: Default::default(),
        attempt: 5,
        not_before: T0,
        expire_at: None,
        priority: Priority::Normal,
        trace: None,
        accepted_at: T0,
    }
}

pub fn dead_letter(task: TaskEnvelope) -> DeadLetter {
    DeadLetter {
        id: id(DeadLetterId::parse, "dead"),
        app_id: id(AppId::parse, "app"),
        delivery_id: id(DeliveryId::parse, "dlv"),
        reason: "retries exhausted: 503".into(),
        died_at: T0,
        task,
    }
}

pub fn result_task() -> TaskEnvelope {
    TaskEnvelope::ResultV1(ResultEvent {
        app_id: id(AppId::parse, "app"),
        message_id: id(MessageId::parse, "msg"),
        delivery_id: id(DeliveryId::parse, "dlv"),
        version: EventVersion::new(1, DeliveryState::Dead),
        state: DeliveryState::Dead,
        kind: ResultKind::Dispatch,
        at: T0,
        code: None,
        detail: None,
        next_at: None,
        content: None,
        attempt: None,
    })
}
