//! The per-value checks of the validation pass (`read`): each returns what is wrong with a
//! setting's text, and the reader adds the key and where the value came from.

use super::read::decode_key;

pub(super) fn check_not_empty(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(())
    }
}

pub(super) fn check_public_url(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Ok(());
    }
    let uri: hyper::Uri = text.parse().map_err(|_| format!("{text:?} is not a URL"))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(()),
        _ => Err(format!(
            "{text:?} must be an http:// or https:// URL with a host"
        )),
    }
}

pub(super) fn check_admin_key(text: &str) -> Result<(), String> {
    if !text.is_empty() && text.chars().count() < 16 {
        Err("must be empty (generated) or at least 16 characters".into())
    } else {
        Ok(())
    }
}

pub(super) fn check_optional_key(text: &str) -> Result<(), String> {
    if text.is_empty() {
        Ok(())
    } else {
        decode_key(text).map(|_| ())
    }
}

pub(super) fn check_key_id(text: &str) -> Result<(), String> {
    let valid = !text.is_empty()
        && text.len() <= 32
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{text:?} must be 1-32 characters of letters, digits, `-` or `_`"
        ))
    }
}

/// Accepts `level` or comma-separated `target=level` directives with real level names, which
/// `EnvFilter` alone would not catch (it reads `verbose` as a target name).
pub(super) fn check_log_filter(text: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let bad = || format!("{text:?} is not a log level or filter (e.g. `info,herald_engine=debug`)");
    if text.trim().is_empty() {
        return Err(bad());
    }
    for directive in text.split(',').map(str::trim) {
        let level = match directive.rsplit_once('=') {
            Some((target, level)) if !target.trim().is_empty() => level,
            Some(_) => return Err(bad()),
            None => directive,
        };
        if !LEVELS.contains(&level.trim().to_ascii_lowercase().as_str()) {
            return Err(bad());
        }
    }
    tracing_subscriber::EnvFilter::try_new(text).map_err(|_| bad())?;
    Ok(())
}
