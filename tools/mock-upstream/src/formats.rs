//! Structured-output fields as the OpenAI APIs check them: `json_schema` needs a `name` (letters,
//! digits, `_` and `-`, at most 64) and a `schema` object, and with `strict: true` every object
//! must be closed and list every property as required (strict mode's rules).

use serde_json::Value;

/// A `response_format` (Chat) or `text.format` (Responses), `at` naming it in errors; `spec` is
/// where the `json_schema` fields are (nested in Chat, beside `type` in Responses).
pub fn check_openai(format: &Value, spec: &Value, at: &str) -> Result<(), String> {
    match format["type"].as_str() {
        None if format.is_null() => Ok(()),
        Some("text" | "json_object") => Ok(()),
        Some("json_schema") => {
            let name = spec["name"].as_str().unwrap_or_default();
            let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            if name.is_empty() || name.len() > 64 || !name.chars().all(valid) {
                return Err(format!(
                    "Invalid '{at}.name': must match ^[a-zA-Z0-9_-]{{1,64}}$, got {name:?}."
                ));
            }
            if !spec["schema"].is_object() {
                return Err(format!("Missing required parameter: '{at}.schema'."));
            }
            if spec["strict"] == true {
                check_strict(&spec["schema"], &format!("{at}.schema"))?;
            }
            Ok(())
        }
        _ => Err(format!("Invalid value for '{at}.type': {}", format["type"])),
    }
}

fn check_strict(schema: &Value, at: &str) -> Result<(), String> {
    let Some(map) = schema.as_object() else { return Ok(()) };
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        if map.get("additionalProperties") != Some(&Value::Bool(false)) {
            return Err(format!(
                "Invalid schema for response_format: In context=({at}), 'additionalProperties' is required to be supplied and to be false."
            ));
        }
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(missing) = props.keys().find(|k| !required.contains(&k.as_str())) {
            return Err(format!(
                "Invalid schema for response_format: In context=({at}), 'required' is required to be supplied and to be an array including every key in properties. Missing '{missing}'."
            ));
        }
        for (name, sub) in props {
            check_strict(sub, &format!("{at}.properties.{name}"))?;
        }
    }
    if let Some(items) = map.get("items") {
        check_strict(items, &format!("{at}.items"))?;
    }
    Ok(())
}
