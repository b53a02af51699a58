//! A rendered template's fields → the SendSms parameters they stand for.
//!
//! | field | parameter |
//! |---|---|
//! | `template_code` (required) | `TemplateCode` (`SMS_123456789`) |
//! | `sign_name` (optional) | `SignName`, overriding the account's `sign_name` |
//! | `param.<name>` | `TemplateParam["<name>"]` (a string, as Aliyun requires) |
//! | `params` (optional) | a JSON object merged into `TemplateParam` first (strings, numbers and booleans, all sent as strings); `param.<name>` wins on conflict |
//! | `sms_up_extend_code` (optional) | `SmsUpExtendCode` |
//!
//! Other fields are ignored. Without any parameter, `TemplateParam` is omitted.

use serde_json::Value;
use std::collections::BTreeMap;

/// What one message asks Aliyun to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSpec {
    pub template_code: String,
    pub sign_name: String,
    /// The parameters, all strings, by name.
    pub params: BTreeMap<String, String>,
    pub up_extend_code: Option<String>,
}

impl TemplateSpec {
    /// Reads the fields; the error says which field is wrong.
    pub fn from_fields(
        fields: &BTreeMap<String, String>,
        default_sign_name: Option<&str>,
    ) -> Result<Self, String> {
        let non_empty = |key: &str| {
            fields
                .get(key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let template_code =
            non_empty("template_code").ok_or("field template_code: required by aliyun_sms")?;
        let sign_name = non_empty("sign_name")
            .or_else(|| default_sign_name.map(str::to_owned))
            .ok_or("no SignName: set the account's sign_name or the template field sign_name")?;
        let mut params = BTreeMap::new();
        if let Some(raw) = fields.get("params").filter(|raw| !raw.trim().is_empty()) {
            let Ok(Value::Object(object)) = serde_json::from_str::<Value>(raw) else {
                return Err("field params: must be a JSON object".into());
            };
            for (name, value) in object {
                let text = match value {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(format!("field params: {name} must be a string or number")),
                };
                params.insert(name, text);
            }
        }
        for (key, value) in fields {
            if let Some(name) = key.strip_prefix("param.").filter(|n| !n.is_empty()) {
                params.insert(name.to_owned(), value.clone());
            }
        }
        Ok(Self {
            template_code,
            sign_name,
            params,
            up_extend_code: non_empty("sms_up_extend_code"),
        })
    }

    /// `TemplateParam` as JSON, or `None` without parameters.
    pub fn template_param(&self) -> Option<String> {
        (!self.params.is_empty()).then(|| Value::from_iter(self.params.clone()).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_code_sign_and_params() {
        let spec = TemplateSpec::from_fields(
            &fields(&[
                ("template_code", "SMS_1"),
                ("params", r#"{"code": 1234, "name": "x"}"#),
                ("param.name", "张三"),
                ("other", "ignored"),
            ]),
            Some("阿里云"),
        )
        .unwrap();
        assert_eq!(spec.sign_name, "阿里云");
        assert_eq!(
            spec.template_param().unwrap(),
            r#"{"code":"1234","name":"张三"}"#
        );
        let own = TemplateSpec::from_fields(
            &fields(&[("template_code", "SMS_1"), ("sign_name", "Other")]),
            Some("阿里云"),
        )
        .unwrap();
        assert_eq!(
            (own.sign_name.as_str(), own.template_param()),
            ("Other", None)
        );
    }

    #[test]
    fn missing_or_bad_fields_are_named() {
        let err = TemplateSpec::from_fields(&fields(&[]), Some("s")).unwrap_err();
        assert!(err.contains("template_code"));
        let err = TemplateSpec::from_fields(&fields(&[("template_code", "SMS_1")]), None);
        assert!(err.unwrap_err().contains("sign_name"));
        let err = TemplateSpec::from_fields(
            &fields(&[("template_code", "SMS_1"), ("params", "[1]")]),
            Some("s"),
        );
        assert!(err.unwrap_err().contains("params"));
    }
}
