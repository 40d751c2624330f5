//! JSON schemas as Anthropic's structured outputs (`output_config.format`) take them: every object
//! closed (`additionalProperties: false`, which the API requires), and the numeric, string and
//! array-size constraints it does not enforce left out (what the official SDKs also strip, then
//! check on the client side).

use serde_json::{Map, Value};

/// Constraints Anthropic's structured outputs do not take.
const UNSUPPORTED: [&str; 8] = [
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "maxItems",
];

/// Keywords whose value is one schema, and those whose value is a list or a map of schemas.
const ONE: [&str; 3] = ["items", "not", "additionalItems"];
const MANY: [&str; 3] = ["anyOf", "allOf", "oneOf"];
const NAMED: [&str; 3] = ["properties", "$defs", "definitions"];

/// `schema` fitted for `output_config.format`.
pub(super) fn fitted(schema: &Value) -> Value {
    let Value::Object(map) = schema else { return schema.clone() };
    let mut out = Map::new();
    for (key, value) in map {
        let value = match key.as_str() {
            k if UNSUPPORTED.contains(&k) => continue,
            // Only 0 and 1 are accepted as a minimum number of items.
            "minItems" if value.as_u64().is_some_and(|n| n > 1) => continue,
            k if ONE.contains(&k) => fitted(value),
            k if MANY.contains(&k) => match value {
                Value::Array(list) => Value::Array(list.iter().map(fitted).collect()),
                other => other.clone(),
            },
            k if NAMED.contains(&k) => match value {
                Value::Object(named) => {
                    Value::Object(named.iter().map(|(name, s)| (name.clone(), fitted(s))).collect())
                }
                other => other.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    let object = out.get("type").is_some_and(|t| {
        t == "object" || t.as_array().is_some_and(|types| types.iter().any(|t| t == "object"))
    }) || out.contains_key("properties");
    if object {
        out.insert("additionalProperties".into(), false.into());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_are_closed_and_unenforced_constraints_left_out() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 40, "description": "who"},
                "age": {"type": "integer", "minimum": 0},
                "tags": {"type": "array", "minItems": 2, "items": {"type": "object",
                    "properties": {"t": {"type": "string"}}, "additionalProperties": true}},
                "either": {"anyOf": [{"type": "object", "properties": {}}, {"type": "null"}]}
            },
            "required": ["name"],
            "$defs": {"Inner": {"type": ["object", "null"], "properties": {}}}
        });
        assert_eq!(
            fitted(&schema),
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "who"},
                    "age": {"type": "integer"},
                    "tags": {"type": "array", "items": {"type": "object",
                        "properties": {"t": {"type": "string"}}, "additionalProperties": false}},
                    "either": {"anyOf": [
                        {"type": "object", "properties": {}, "additionalProperties": false},
                        {"type": "null"}
                    ]}
                },
                "required": ["name"],
                "$defs": {"Inner": {"type": ["object", "null"], "properties": {},
                    "additionalProperties": false}},
                "additionalProperties": false
            })
        );
        // Names inside `properties` are property names, never keywords.
        let named = json!({"type": "object", "properties": {"minimum": {"type": "number"}}});
        assert_eq!(fitted(&named)["properties"]["minimum"], json!({"type": "number"}));
    }
}
