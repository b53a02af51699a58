//! Keeps `openapi.json` honest: it must look like valid OpenAPI 3.0, every `$ref` must
//! resolve, the documented (path, method) pairs must be exactly the routes of
//! `src/routes/mod.rs` (so a new route without docs fails here), every example must match
//! its schema, and the JSON the code really produces must match the response schemas
//! (see `openapi/shapes.rs`).

#[path = "openapi/fixtures.rs"]
mod fixtures;
#[path = "openapi/schema_check.rs"]
mod schema_check;
#[path = "openapi/shapes.rs"]
mod shapes;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const SPEC: &str = include_str!("../openapi.json");
const ROUTES: &str = include_str!("../src/routes/mod.rs");
const DOCS_PAGE: &str = include_str!("../docs.html");

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn spec() -> Value {
    serde_json::from_str(SPEC).expect("openapi.json is valid JSON")
}

/// Every `(path, METHOD)` routed in `routes/mod.rs`, read from its source text:
/// `.route("/path", post(a).get(b))`. Constructs this reader does not understand
/// (`.nest`, `.merge`, `on(…)`, `any(…)`) fail loudly instead of hiding routes.
fn routed(source: &str) -> BTreeSet<(String, String)> {
    let code: String = source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    for unsupported in [".nest(", ".merge(", ".route_service(", ".nest_service("] {
        assert!(
            !code.contains(unsupported),
            "routes/mod.rs uses `{unsupported}`: teach tests/openapi.rs to read it"
        );
    }
    // Each router-building function is read on its own (`ops_router` repeats a subset of
    // `router`); a pair routed twice within one function is a mistake.
    let mut all = BTreeSet::new();
    for function in code.split("\npub fn ") {
        all.extend(routed_in(function));
    }
    all
}

fn routed_in(code: &str) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let open = rest.find('"').expect("a path literal after .route(");
        let close = open + 1 + rest[open + 1..].find('"').expect("closing quote");
        let path = rest[open + 1..close].to_owned();
        let args = &rest[close + 1..];
        let end = matching_paren(args);
        let methods = called_methods(&args[..end], &path);
        assert!(!methods.is_empty(), "no method router found for {path}");
        for m in methods {
            assert!(
                pairs.insert((path.clone(), m.clone())),
                "{m} {path} is routed twice"
            );
        }
        rest = &args[end..];
    }
    pairs
}

/// Index of the `)` closing the `.route(` whose arguments `args` continues.
fn matching_paren(args: &str) -> usize {
    let mut depth = 1;
    for (i, c) in args.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in a .route( call")
}

/// The HTTP methods of a method-router expression such as `get(a).patch(b)` or
/// `axum::routing::delete(c)`: every identifier called like a function must be a method.
fn called_methods(expr: &str, path: &str) -> Vec<String> {
    let mut methods = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() || bytes[i] == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let ident = &expr[start..i];
            let called = expr[i..].trim_start().starts_with('(');
            if called {
                assert!(
                    METHODS.contains(&ident),
                    "route {path}: `{ident}(…)` is not a method router tests/openapi.rs knows"
                );
                methods.push(ident.to_uppercase());
            }
        } else {
            i += 1;
        }
    }
    methods
}

fn documented(spec: &Value) -> BTreeSet<(String, String)> {
    let paths = spec["paths"].as_object().expect("paths is an object");
    let mut pairs = BTreeSet::new();
    for (path, item) in paths {
        for key in item.as_object().expect("path item is an object").keys() {
            if METHODS.contains(&key.as_str()) {
                pairs.insert((path.clone(), key.to_uppercase()));
            }
        }
    }
    pairs
}

#[test]
fn route_reader_understands_the_route_table_syntax() {
    let src = r#"
        Router::new()
            .route("/a", post(h::send).get(h::search))
            // .route("/commented", get(x))
            .route(
                "/a/{id}",
                get(h::get).patch(h::update).delete(h::delete),
            )
            .route("/b/{id}", axum::routing::delete(apps::delete))
    "#;
    let want: BTreeSet<(String, String)> = [
        ("/a", "GET"),
        ("/a", "POST"),
        ("/a/{id}", "DELETE"),
        ("/a/{id}", "GET"),
        ("/a/{id}", "PATCH"),
        ("/b/{id}", "DELETE"),
    ]
    .iter()
    .map(|(p, m)| (p.to_string(), m.to_string()))
    .collect();
    assert_eq!(routed(src), want);
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let routed = routed(ROUTES);
    let documented = documented(&spec());
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && phantom.is_empty(),
        "routes missing from openapi.json: {undocumented:?}\n\
         documented but not routed in routes/mod.rs: {phantom:?}"
    );
    // The operational routes and the docs themselves are part of the table.
    for p in ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"] {
        assert!(routed.contains(&(p.to_owned(), "GET".to_owned())), "{p}");
    }
}

#[test]
fn document_looks_like_openapi_3_0() {
    let spec = spec();
    let version = spec["openapi"].as_str().expect("openapi version string");
    assert!(version.starts_with("3.0."), "openapi {version}");
    for key in ["title", "version"] {
        let v = spec["info"][key].as_str().unwrap_or_default();
        assert!(!v.is_empty(), "info.{key} is required");
    }
    let scheme = &spec["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(
        (scheme["type"].as_str(), scheme["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    assert_eq!(spec["security"], serde_json::json!([{"bearerAuth": []}]));
    let tags: BTreeSet<&str> = spec["tags"]
        .as_array()
        .expect("top-level tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        assert!(path.starts_with('/'), "path {path} must start with /");
        for (method, op) in item.as_object().expect("path item") {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let where_ = format!("{} {path}", method.to_uppercase());
            let id = op["operationId"].as_str().expect("operationId");
            assert!(
                operation_ids.insert(id.to_owned()),
                "{where_}: duplicate {id}"
            );
            assert!(op["summary"].is_string(), "{where_}: summary");
            let op_tags = op["tags"].as_array().expect("tags");
            assert!(!op_tags.is_empty(), "{where_}: at least one tag");
            for t in op_tags {
                let t = t.as_str().unwrap_or_default();
                assert!(tags.contains(t), "{where_}: tag {t} is not declared");
            }
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{where_}: no responses");
            for status in responses.keys() {
                let ok = status == "default" || status.parse::<u16>().is_ok();
                assert!(ok, "{where_}: response key {status}");
            }
            // `/v1` needs the bearer key; operational endpoints opt out explicitly.
            let public = op.get("security") == Some(&serde_json::json!([]));
            assert_eq!(public, !path.starts_with("/v1/"), "{where_}: security");
            if !public {
                assert!(responses.contains_key("401"), "{where_}: 401 documented");
            }
            check_path_parameters(&spec, path, item, op, &where_);
        }
    }
}

/// Every `{name}` in the path has exactly one required path parameter, and no path
/// parameter is declared that the path does not contain.
fn check_path_parameters(spec: &Value, path: &str, item: &Value, op: &Value, where_: &str) {
    let in_template: BTreeSet<String> = path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect();
    let mut declared: BTreeMap<String, usize> = BTreeMap::new();
    let params = [&item["parameters"], &op["parameters"]];
    for p in params.iter().filter_map(|p| p.as_array()).flatten() {
        let p = schema_check::resolve(spec, p);
        if p["in"] == "path" {
            assert_eq!(p["required"], true, "{where_}: path params are required");
            let name = p["name"].as_str().expect("parameter name").to_owned();
            *declared.entry(name).or_default() += 1;
        }
    }
    let names: BTreeSet<String> = declared.keys().cloned().collect();
    assert_eq!(names, in_template, "{where_}: path parameters");
    assert!(declared.values().all(|n| *n == 1), "{where_}: duplicate");
}

#[test]
fn every_ref_resolves_and_every_component_is_used() {
    let spec = spec();
    let mut refs = Vec::new();
    collect_refs(&spec, "#", &mut refs);
    assert!(!refs.is_empty());
    for (at, target) in &refs {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: only local refs, got {target}"));
        assert!(
            spec.pointer(pointer).is_some(),
            "{at}: $ref {target} does not resolve"
        );
    }
    let used: BTreeSet<&str> = refs.iter().map(|(_, t)| t.as_str()).collect();
    for kind in ["schemas", "responses", "parameters"] {
        for name in spec["components"][kind].as_object().expect(kind).keys() {
            let target = format!("#/components/{kind}/{name}");
            assert!(used.contains(target.as_str()), "{target} is never used");
        }
    }
}

/// `(location, target)` of every `$ref`; a `$ref` object must have no siblings (OpenAPI 3.0
/// ignores them, so a description next to a `$ref` would silently vanish).
fn collect_refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref") {
                let target = target.as_str().expect("$ref is a string");
                assert_eq!(map.len(), 1, "{at}: $ref with siblings is ignored");
                out.push((at.to_owned(), target.to_owned()));
            }
            for (k, child) in map {
                collect_refs(child, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_refs(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_example_matches_its_schema() {
    let spec = spec();
    let problems = schema_check::check_all_examples(&spec);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn send_and_batch_carry_examples_that_the_server_accepts() {
    let spec = spec();
    let examples = shapes::request_examples(&spec);
    for op in ["sendMessage", "sendBatch"] {
        assert!(
            examples.iter().any(|(id, _, _)| id == op),
            "{op} needs a request example"
        );
    }
    let problems: Vec<String> = examples
        .iter()
        .filter_map(|(op, name, value)| {
            shapes::parse_as_request(op, value)
                .err()
                .map(|e| format!("{op} example {name}: {e}"))
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn response_schemas_match_what_the_code_serializes() {
    let spec = spec();
    let problems = shapes::check_response_shapes(&spec);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn docs_page_is_self_contained_and_reads_the_served_document() {
    assert!(DOCS_PAGE.contains("/openapi.json"), "fetches the document");
    for external in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
    ] {
        assert!(
            !DOCS_PAGE.contains(external),
            "external resource: {external}"
        );
    }
    assert!(
        DOCS_PAGE.contains("<script>"),
        "inline script renders the page"
    );
}
