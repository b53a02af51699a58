//! A small validator for the subset of OpenAPI 3.0 schema that `openapi.json` uses
//! (`$ref`, `type`, `properties`, `required`, `additionalProperties`, `items`, `enum`,
//! `oneOf`, `allOf`, `nullable`, `format: date-time`, numeric and length bounds).
//!
//! It is strict on purpose: an object key the schema does not declare is an error unless
//! the schema explicitly allows additional properties, so a field the code adds (or an
//! example invents) without documentation is caught.

use serde_json::Value;

/// Follows `$ref` chains to the referenced object.
pub fn resolve<'a>(spec: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(target) = v.get("$ref").and_then(Value::as_str) else {
            return v;
        };
        v = target
            .strip_prefix('#')
            .and_then(|p| spec.pointer(p))
            .unwrap_or_else(|| panic!("unresolvable $ref {target}"));
    }
    panic!("$ref chain too long")
}

/// Problems of `value` against `schema`; `at` locates the value in messages.
pub fn validate(spec: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut errors = Vec::new();
    check(spec, schema, value, at, &mut errors);
    errors
}

fn is_any(schema: &Value) -> bool {
    ["type", "allOf", "oneOf", "enum", "properties"]
        .iter()
        .all(|k| schema.get(k).is_none())
}

fn check(spec: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if value.is_null() {
        if schema["nullable"] != true && !is_any(schema) {
            errors.push(format!("{at}: null, but the schema is not nullable"));
        }
        return;
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        check(spec, part, value, at, errors);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let matching = options
            .iter()
            .filter(|o| validate(spec, o, value, at).is_empty())
            .count();
        if matching != 1 {
            errors.push(format!("{at}: matches {matching} of the oneOf schemas"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    match schema["type"].as_str() {
        None => {}
        Some("string") => check_string(schema, value, at, errors),
        Some("integer") if value.is_i64() || value.is_u64() => {
            check_bounds(schema, value, at, errors)
        }
        Some("number") if value.is_number() => check_bounds(schema, value, at, errors),
        Some("boolean") if value.is_boolean() => {}
        Some("array") if value.is_array() => check_array(spec, schema, value, at, errors),
        Some("object") if value.is_object() => check_object(spec, schema, value, at, errors),
        Some(other) => errors.push(format!("{at}: {value} is not of type {other}")),
    }
}

fn check_string(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(s) = value.as_str() else {
        errors.push(format!("{at}: {value} is not a string"));
        return;
    };
    if schema["format"] == "date-time" && chrono::DateTime::parse_from_rfc3339(s).is_err() {
        errors.push(format!("{at}: {s:?} is not an RFC 3339 date-time"));
    }
    let len = s.chars().count() as u64;
    if schema["minLength"].as_u64().is_some_and(|min| len < min)
        || schema["maxLength"].as_u64().is_some_and(|max| len > max)
    {
        errors.push(format!("{at}: length {len} out of bounds"));
    }
}

fn check_bounds(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let n = value.as_f64().unwrap_or_default();
    if schema["minimum"].as_f64().is_some_and(|min| n < min)
        || schema["maximum"].as_f64().is_some_and(|max| n > max)
    {
        errors.push(format!("{at}: {n} out of bounds"));
    }
}

fn check_array(spec: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
    let len = items.len() as u64;
    if schema["minItems"].as_u64().is_some_and(|min| len < min)
        || schema["maxItems"].as_u64().is_some_and(|max| len > max)
    {
        errors.push(format!("{at}: {len} items out of bounds"));
    }
    for (i, item) in items.iter().enumerate() {
        check(spec, &schema["items"], item, &format!("{at}[{i}]"), errors);
    }
}

fn check_object(spec: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(map) = value.as_object() else { return };
    for key in schema["required"].as_array().into_iter().flatten() {
        let key = key.as_str().unwrap_or_default();
        if !map.contains_key(key) {
            errors.push(format!("{at}: required property {key} is missing"));
        }
    }
    let declared = schema["properties"].as_object();
    for (key, child) in map {
        let path = format!("{at}.{key}");
        if let Some(prop) = declared.and_then(|d| d.get(key)) {
            check(spec, prop, child, &path, errors);
            continue;
        }
        match &schema["additionalProperties"] {
            Value::Bool(true) => {}
            Value::Bool(false) => errors.push(format!("{path}: not allowed by the schema")),
            extra @ Value::Object(_) => check(spec, extra, child, &path, errors),
            // Strict: undeclared keys of a documented object are an error.
            _ if declared.is_some() => errors.push(format!("{path}: not documented")),
            _ => {}
        }
    }
}

/// Checks every example in the document against the schema next to it: media type and
/// parameter `example`/`examples` against their `schema`, and a schema's own `example`
/// against that schema.
pub fn check_all_examples(spec: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut checked = 0;
    walk(spec, spec, "#", &mut problems, &mut checked);
    assert!(
        checked > 20,
        "only {checked} examples found: is the walk broken?"
    );
    problems
}

fn walk(spec: &Value, v: &Value, at: &str, problems: &mut Vec<String>, checked: &mut usize) {
    let Value::Object(map) = v else {
        if let Value::Array(items) = v {
            for (i, item) in items.iter().enumerate() {
                walk(spec, item, &format!("{at}/{i}"), problems, checked);
            }
        }
        return;
    };
    // The schema that examples here are written against: a sibling `schema` (parameters,
    // media types) or the object itself (a schema with an `example`).
    let schema = map.get("schema").unwrap_or(v);
    if let Some(example) = map.get("example") {
        *checked += 1;
        problems.extend(validate(spec, schema, example, &format!("{at}/example")));
    }
    if let Some(examples) = map.get("examples").and_then(Value::as_object) {
        for (name, ex) in examples {
            let ex = resolve(spec, ex);
            *checked += 1;
            let value = ex.get("value").unwrap_or(&Value::Null);
            problems.extend(validate(
                spec,
                schema,
                value,
                &format!("{at}/examples/{name}"),
            ));
        }
    }
    for (key, child) in map {
        // Example values and literal lists are data, not parts of the document.
        if !matches!(key.as_str(), "example" | "examples" | "default" | "enum") {
            walk(spec, child, &format!("{at}/{key}"), problems, checked);
        }
    }
}

#[test]
fn validator_catches_the_mistakes_it_exists_for() {
    let spec = serde_json::json!({"components": {"schemas": {
        "Item": {"type": "object", "required": ["id"], "properties": {
            "id": {"type": "string"},
            "at": {"type": "string", "format": "date-time", "nullable": true},
            "n": {"type": "integer", "minimum": 1}}},
        "Either": {"oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/Item"}]}
    }}});
    let item = serde_json::json!({"$ref": "#/components/schemas/Item"});
    let either = serde_json::json!({"$ref": "#/components/schemas/Either"});
    let ok = serde_json::json!({"id": "a", "at": null, "n": 2});
    assert!(validate(&spec, &item, &ok, "$").is_empty());
    assert!(validate(&spec, &either, &serde_json::json!("x"), "$").is_empty());
    for bad in [
        serde_json::json!({"at": "2026-01-01T00:00:00Z"}),
        serde_json::json!({"id": "a", "at": 1700000000000i64}),
        serde_json::json!({"id": "a", "n": 0}),
        serde_json::json!({"id": "a", "extra": true}),
        serde_json::json!({"id": 5}),
    ] {
        assert!(!validate(&spec, &item, &bad, "$").is_empty(), "{bad}");
        assert!(!validate(&spec, &either, &bad, "$").is_empty(), "{bad}");
    }
}
