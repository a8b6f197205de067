//! Every merchant API answer a test sees is checked against the OpenAPI document the API serves
//! (`rc_api::openapi::document()`): the route and method are documented, the status is one the
//! operation documents, the content type is one of its contents, and a JSON body validates
//! against the schema (the subset of JSON Schema the document uses: `$ref`, `type`, `required`,
//! `properties`, `additionalProperties`, `items`, `enum`, `const`, `allOf`, `pattern` of the two
//! forms it has). A mismatch fails the test that made the call.

use std::sync::OnceLock;

use serde_json::Value;

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(rc_api::openapi::document)
}

/// The documented path `path` is an instance of (the one with most literal segments).
fn template_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    document()["paths"]
        .as_object()?
        .keys()
        .filter_map(|template| {
            let t: Vec<&str> = template.trim_matches('/').split('/').collect();
            let fits = t.len() == segments.len()
                && t.iter()
                    .zip(&segments)
                    .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s);
            fits.then(|| (t.iter().filter(|t| !t.starts_with('{')).count(), template))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, template)| template.as_str())
}

fn resolve(value: &Value) -> &Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(pointer) => resolve(
            document()
                .pointer(pointer.trim_start_matches('#'))
                .unwrap_or(&Value::Null),
        ),
        None => value,
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

fn pattern_matches(pattern: &str, text: &str) -> bool {
    match pattern {
        "^[a-z_]+$" => {
            !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        }
        other => other
            .strip_prefix('^')
            .is_some_and(|prefix| text.starts_with(prefix)),
    }
}

/// The problems of `value` against `schema`, at `at`.
pub fn validate(schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(schema);
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        validate(part, value, at, problems);
    }
    if let Some(types) = schema.get("type") {
        let ok = match types {
            Value::String(t) => type_matches(t, value),
            Value::Array(list) => list
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(t, value)),
            _ => true,
        };
        if !ok {
            problems.push(format!("{at}: not of type {types}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        problems.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        problems.push(format!("{at}: {value} is not {constant}"));
    }
    if let (Some(pattern), Some(text)) = (
        schema.get("pattern").and_then(Value::as_str),
        value.as_str(),
    ) && !pattern_matches(pattern, text)
    {
        problems.push(format!("{at}: does not match {pattern}"));
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                problems.push(format!("{at}: lacks required `{name}`"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, item) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => validate(property, item, &format!("{at}.{name}"), problems),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    problems.push(format!("{at}: `{name}` is not documented"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, item) in list.iter().enumerate() {
            validate(items, item, &format!("{at}[{i}]"), problems);
        }
    }
}

/// Checks one answer of the merchant API against the document; panics on a mismatch.
pub fn check(
    method: &str,
    path_and_query: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) {
    let path = path_and_query.split('?').next().unwrap_or_default();
    let error_schema = serde_json::json!({"$ref": "#/components/schemas/Error"});
    let operation = template_of(path)
        .and_then(|template| document()["paths"][template].get(method.to_ascii_lowercase()));
    let Some(operation) = operation else {
        // Not a documented operation: only the router's refusals may answer it.
        assert!(
            matches!(status, 401 | 404 | 405),
            "{method} {path} is not in the OpenAPI document, yet answered {status}"
        );
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let mut problems = Vec::new();
        validate(&error_schema, &value, "body", &mut problems);
        assert!(
            problems.is_empty(),
            "{method} {path} {status}: {problems:?}"
        );
        return;
    };
    let Some(answer) = operation["responses"].get(status.to_string()) else {
        panic!("{method} {path} answered {status}, which the OpenAPI document does not list");
    };
    let answer = resolve(answer);
    let contents = answer["content"].as_object().cloned().unwrap_or_default();
    if contents.contains_key("*/*") {
        return;
    }
    let media = content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let Some(content) = contents.get(&media) else {
        panic!("{method} {path} {status}: content type {media} is not documented");
    };
    if media != "application/json" {
        return;
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(_) => panic!("{method} {path} {status}: the body is not JSON"),
    };
    let mut problems = Vec::new();
    validate(&content["schema"], &value, "body", &mut problems);
    assert!(
        problems.is_empty(),
        "{method} {path} {status} does not match the OpenAPI document: {problems:?}"
    );
}
