//! Accept-time validation: template, account, times, receivers and variables.
//!
//! Everything a delivery needs to succeed that can be known now is checked now: the template
//! exists and is enabled, the account belongs to the template's channel, every receiver is
//! valid for that channel, and the variables are exactly the declared ones and render.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::render::CompiledTemplate;
use herald_domain::time::{now_ms, parse_rfc3339};
use herald_domain::{
    AccountId, AppId, FieldError, Millis, Priority, Receiver, Template, Variables,
};
use herald_ports::AccountContext;
use std::fmt::Display;
use std::sync::Arc;

/// The request parts shared by every receiver.
pub(crate) struct CommonInput<'a> {
    pub template: &'a str,
    pub send_at: Option<&'a str>,
    pub expire_at: Option<&'a str>,
    pub priority: Option<Priority>,
    pub account: Option<&'a str>,
}

/// A validated plan for the receivers of one request.
pub(crate) struct Plan {
    pub template: Template,
    pub compiled: Arc<CompiledTemplate>,
    pub account: Arc<AccountContext>,
    pub now: Millis,
    pub send_at: Option<Millis>,
    pub expire_at: Option<Millis>,
    pub priority: Priority,
}

pub(crate) async fn plan(
    engine: &Engine,
    app: &AppId,
    input: CommonInput<'_>,
) -> Result<Plan, EngineError> {
    let mut errors = Vec::new();
    let now = now_ms();
    let send_at = parse_time(input.send_at, "send_at", &mut errors).filter(|t| *t > now);
    let expire_at = parse_time(input.expire_at, "expire_at", &mut errors);
    if let Some(exp) = expire_at {
        if exp <= now {
            errors.push(FieldError::new("expire_at", "must be in the future"));
        } else if send_at.is_some_and(|s| exp <= s) {
            errors.push(FieldError::new("expire_at", "must be later than send_at"));
        }
    }
    let Some(template) = engine.resolve_template(app, input.template).await? else {
        errors.push(FieldError::new(
            "template",
            format!("no template {:?} in this app", input.template),
        ));
        return Err(EngineError::Invalid(errors));
    };
    if !template.enabled {
        errors.push(FieldError::new("template", "the template is disabled"));
    }
    let account_id = match input.account {
        Some(a) => AccountId::parse(a).or_else(|| {
            errors.push(FieldError::new("account", "must be an account id (acc_…)"));
            None
        }),
        None => template.default_account_id.clone().or_else(|| {
            errors.push(FieldError::new(
                "account",
                "the template has no default account: name one",
            ));
            None
        }),
    };
    let account = match &account_id {
        Some(id) => match engine.account_context(app, id).await? {
            Some(ctx) if ctx.account.channel != template.channel => {
                errors.push(FieldError::new(
                    "account",
                    format!(
                        "is a {} account; the template sends via {}",
                        ctx.account.channel, template.channel
                    ),
                ));
                None
            }
            Some(ctx) if !ctx.account.enabled => {
                errors.push(FieldError::new("account", "the account is disabled"));
                None
            }
            Some(ctx) => Some(ctx),
            None => {
                errors.push(FieldError::new(
                    "account",
                    format!("no account {id} in this app"),
                ));
                None
            }
        },
        None => None,
    };
    let compiled = engine
        .compiled(app, &template.id, template.current_version)
        .await?;
    match (errors.is_empty(), account) {
        (true, Some(account)) => Ok(Plan {
            template,
            compiled,
            account,
            now,
            send_at,
            expire_at,
            priority: input.priority.unwrap_or_default(),
        }),
        _ => Err(EngineError::Invalid(errors)),
    }
}

fn parse_time(value: Option<&str>, field: &str, errors: &mut Vec<FieldError>) -> Option<Millis> {
    let v = value?;
    let parsed = parse_rfc3339(v);
    if parsed.is_none() {
        errors.push(FieldError::new(
            field,
            "must be an RFC 3339 timestamp with an offset, e.g. 2026-01-02T15:04:05+08:00",
        ));
    }
    parsed
}

impl Plan {
    /// Problems of one receiver and its (merged) variables; the field names locate them in
    /// the request (`items[3].receiver`, `items[3].variables`).
    pub fn check(
        &self,
        receiver: &Receiver,
        receiver_field: &dyn Display,
        vars: &Variables,
        vars_field: &dyn Display,
    ) -> Vec<FieldError> {
        let mut errors = self.check_receiver(receiver, receiver_field);
        errors.extend(self.check_variables(vars, vars_field));
        errors
    }

    /// Problems of one receiver.
    pub fn check_receiver(
        &self,
        receiver: &Receiver,
        receiver_field: &dyn Display,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Err(msg) = self.template.channel.validate_receiver(&receiver.to) {
            errors.push(FieldError::new(format!("{receiver_field}.to"), msg));
        }
        if let Some(tz) = &receiver.timezone
            && !is_time_zone(tz)
        {
            errors.push(FieldError::new(
                format!("{receiver_field}.timezone"),
                "must be an IANA time zone such as Asia/Shanghai",
            ));
        }
        if let Some(l) = &receiver.locale
            && !is_locale(l)
        {
            errors.push(FieldError::new(
                format!("{receiver_field}.locale"),
                "must be a BCP 47 locale such as zh-CN",
            ));
        }
        errors
    }

    /// Variables must be exactly the declared ones, and render.
    pub fn check_variables(&self, vars: &Variables, vars_field: &dyn Display) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let declared = &self.compiled.version.variables;
        for spec in declared {
            if !vars.contains_key(&spec.name) {
                errors.push(FieldError::new(
                    format!("{vars_field}.{}", spec.name),
                    "is required by the template",
                ));
            }
        }
        for name in vars.keys() {
            if !declared.iter().any(|s| &s.name == name) {
                errors.push(FieldError::new(
                    format!("{vars_field}.{name}"),
                    "is not declared by the template",
                ));
            }
        }
        if errors.is_empty()
            && !self.compiled.renders_when_declared_present()
            && let Err(e) = self.compiled.render(vars)
        {
            errors.push(FieldError::new(
                vars_field.to_string(),
                format!("the template cannot render with these values: {e}"),
            ));
        }
        errors
    }
}

fn is_time_zone(tz: &str) -> bool {
    tz == "UTC"
        || (tz.len() <= 64
            && tz.split('/').count() >= 2
            && tz.split('/').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
            }))
}

fn is_locale(l: &str) -> bool {
    let mut parts = l.split(['-', '_']);
    let first_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}
