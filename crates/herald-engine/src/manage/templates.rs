//! Templates: create (compiled and checked by the strict renderer), update (content or
//! variable changes append a version; accepted messages keep the version they pinned),
//! read with the current version, list versions, delete.

use super::check_name;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::render::CompiledTemplate;
use herald_domain::time::now_ms;
use herald_domain::{
    AccountId, AppId, ChannelKind, FieldError, Template, TemplateContent, TemplateVersion,
    VariableSpec,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub name: String,
    pub channel: String,
    /// Default account (`acc_…`) of the same channel.
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub variables: Vec<VariableSpec>,
    pub content: TemplateContent,
}

fn yes() -> bool {
    true
}

/// A field that is present, possibly `null` (absent fields stay `None` by `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A partial update; absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatePatch {
    pub name: Option<String>,
    /// Absent: unchanged; `null`: no default account (every send then names one); an id:
    /// the new default account.
    #[serde(default, deserialize_with = "present")]
    pub account: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub variables: Option<Vec<VariableSpec>>,
    pub content: Option<TemplateContent>,
}

/// A template with its current version's variables and content.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateView {
    #[serde(flatten)]
    pub template: Template,
    pub variables: Vec<VariableSpec>,
    pub content: TemplateContent,
}

impl Engine {
    pub async fn create_template(
        &self,
        app: &AppId,
        input: TemplateInput,
    ) -> Result<TemplateView, EngineError> {
        let mut errors = Vec::new();
        check_name(&input.name, &mut errors);
        let channel = ChannelKind::parse(&input.channel);
        if channel.is_none() {
            let names: Vec<_> = ChannelKind::ALL.iter().map(|c| c.as_str()).collect();
            errors.push(FieldError::new(
                "channel",
                format!("must be one of {}", names.join(", ")),
            ));
        }
        let account = self
            .check_default_account(app, input.account.as_deref(), channel, &mut errors)
            .await?;
        let now = now_ms();
        let id = herald_domain::TemplateId::generate();
        let version = TemplateVersion {
            template_id: id.clone(),
            version: 1,
            variables: input.variables,
            content: input.content,
            created_at: now,
        };
        if let Err(errs) = CompiledTemplate::compile(version.clone()) {
            errors.extend(errs);
        }
        let (Some(channel), true) = (channel, errors.is_empty()) else {
            return Err(EngineError::Invalid(errors));
        };
        let template = Template {
            id,
            app_id: app.clone(),
            name: input.name,
            channel,
            default_account_id: account,
            enabled: input.enabled,
            current_version: 1,
            created_at: now,
            updated_at: now,
        };
        self.deps
            .catalog
            .create_template(&template, &version)
            .await
            .map_err(conflict_on_name)?;
        Ok(TemplateView {
            template,
            variables: version.variables,
            content: version.content,
        })
    }

    pub async fn update_template(
        &self,
        app: &AppId,
        reference: &str,
        patch: TemplatePatch,
    ) -> Result<TemplateView, EngineError> {
        let mut template = self
            .resolve_template(app, reference)
            .await?
            .ok_or(EngineError::NotFound("template"))?;
        let current = self
            .template_version(app, &template, template.current_version)
            .await?;
        let mut errors = Vec::new();
        if let Some(name) = patch.name {
            check_name(&name, &mut errors);
            template.name = name;
        }
        if let Some(enabled) = patch.enabled {
            template.enabled = enabled;
        }
        if let Some(account) = patch.account {
            template.default_account_id = self
                .check_default_account(app, account.as_deref(), Some(template.channel), &mut errors)
                .await?;
        }
        let changed_content = patch.variables.is_some() || patch.content.is_some();
        let new_version = if changed_content {
            let v = TemplateVersion {
                template_id: template.id.clone(),
                version: template.current_version + 1,
                variables: patch.variables.unwrap_or_else(|| current.variables.clone()),
                content: patch.content.unwrap_or_else(|| current.content.clone()),
                created_at: now_ms(),
            };
            if let Err(errs) = CompiledTemplate::compile(v.clone()) {
                errors.extend(errs);
            }
            Some(v)
        } else {
            None
        };
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let old = template.clone();
        if new_version.is_some() {
            template.current_version += 1;
        }
        template.updated_at = now_ms();
        self.deps
            .catalog
            .update_template(&template, new_version.as_ref())
            .await
            .map_err(conflict_on_name)?;
        self.forget_template(&old);
        self.forget_template(&template);
        let shown = new_version.unwrap_or(current);
        Ok(TemplateView {
            template,
            variables: shown.variables,
            content: shown.content,
        })
    }

    pub async fn get_template(
        &self,
        app: &AppId,
        reference: &str,
    ) -> Result<TemplateView, EngineError> {
        let template = self.deps_template(app, reference).await?;
        let v = self
            .template_version(app, &template, template.current_version)
            .await?;
        Ok(TemplateView {
            template,
            variables: v.variables,
            content: v.content,
        })
    }

    pub async fn list_templates(&self, app: &AppId) -> Result<Vec<Template>, EngineError> {
        Ok(self.deps.catalog.list_templates(app).await?)
    }

    pub async fn list_template_versions(
        &self,
        app: &AppId,
        reference: &str,
    ) -> Result<Vec<TemplateVersion>, EngineError> {
        let template = self.deps_template(app, reference).await?;
        Ok(self
            .deps
            .catalog
            .list_template_versions(app, &template.id)
            .await?)
    }

    pub async fn delete_template(&self, app: &AppId, reference: &str) -> Result<(), EngineError> {
        let template = self.deps_template(app, reference).await?;
        self.deps.catalog.delete_template(app, &template.id).await?;
        self.forget_template(&template);
        Ok(())
    }

    /// Uncached read, so an edit is visible at once to the caller that made it.
    async fn deps_template(&self, app: &AppId, reference: &str) -> Result<Template, EngineError> {
        let found = match herald_domain::TemplateId::parse(reference) {
            Some(id) => self.deps.catalog.get_template(app, &id).await?,
            None => {
                self.deps
                    .catalog
                    .get_template_by_name(app, reference)
                    .await?
            }
        };
        found.ok_or(EngineError::NotFound("template"))
    }

    async fn template_version(
        &self,
        app: &AppId,
        t: &Template,
        version: u32,
    ) -> Result<TemplateVersion, EngineError> {
        self.deps
            .catalog
            .get_template_version(app, &t.id, version)
            .await?
            .ok_or_else(|| {
                EngineError::Internal(format!("template {} lacks its version {version}", t.id))
            })
    }

    async fn check_default_account(
        &self,
        app: &AppId,
        account: Option<&str>,
        channel: Option<ChannelKind>,
        errors: &mut Vec<FieldError>,
    ) -> Result<Option<AccountId>, EngineError> {
        let Some(raw) = account else { return Ok(None) };
        let Some(id) = AccountId::parse(raw) else {
            errors.push(FieldError::new("account", "must be an account id (acc_…)"));
            return Ok(None);
        };
        match self.deps.catalog.get_account(app, &id).await? {
            None => errors.push(FieldError::new(
                "account",
                format!("no account {id} in this app"),
            )),
            Some(a) if Some(a.channel) != channel && channel.is_some() => {
                errors.push(FieldError::new(
                    "account",
                    format!(
                        "is a {} account, not {}",
                        a.channel,
                        channel.map(|c| c.as_str()).unwrap_or("?")
                    ),
                ))
            }
            Some(_) => return Ok(Some(id)),
        }
        Ok(None)
    }
}

pub(crate) fn conflict_on_name(e: herald_ports::StoreError) -> EngineError {
    match e {
        herald_ports::StoreError::Conflict(m) => EngineError::Conflict {
            code: "name_taken",
            message: m,
        },
        herald_ports::StoreError::NotFound(_) => EngineError::NotFound("template"),
        other => other.into(),
    }
}
