//! Management operations: apps and API keys (admin), templates, channel accounts, dead
//! letters and search. Inputs are validated here, with errors naming the field, so every
//! transport (HTTP API, CLI, console) gets the same rules.

mod accounts;
mod apps;
mod dead;
mod templates;

pub use accounts::{AccountInput, AccountPatch};
pub use apps::{AppInput, KeyInput, NewApiKey};
pub use templates::{TemplateInput, TemplatePatch, TemplateView};

use herald_domain::FieldError;

/// Names of apps, templates and accounts: 1–128 of letters, digits, `_ . -`.
pub(crate) fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    let ok = (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !ok {
        errors.push(FieldError::new(
            "name",
            "must be 1 to 128 letters, digits, '_', '.' or '-'",
        ));
    }
}
