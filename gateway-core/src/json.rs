//! Parsing request bodies into typed structs, with the failing field named in the error.

use serde::de::DeserializeOwned;

use crate::error::RequestError;

/// Parses JSON; on a type error the error names the field path (`messages[2].content`); on a
/// syntax error it says where the JSON broke.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RequestError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            RequestError::InvalidJson(inner.to_string())
        } else {
            let field = if path == "." { "body".to_owned() } else { path };
            RequestError::field(field, inner.to_string())
        }
    })?;
    de.end().map_err(|e| RequestError::InvalidJson(e.to_string()))?;
    Ok(value)
}
