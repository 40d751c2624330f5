//! `multipart/form-data` bodies (RFC 7578) as the OpenAI file endpoints take them: the parts
//! found by name, a text field read, and the body rebuilt with one field's value replaced (the
//! model, renamed for the upstream) and every other byte as it came.

use bytes::Bytes;

/// One part: its name, and where its value lies in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    name: String,
    filename: Option<String>,
    value: std::ops::Range<usize>,
}

/// A parsed form over its body.
#[derive(Debug, Clone)]
pub struct Form {
    body: Bytes,
    parts: Vec<Part>,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .split(';')
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_owned())
        })
        .filter(|b| !b.is_empty() && b.len() <= 70)
}

/// A parameter of a `Content-Disposition` header (`name="model"`).
fn parameter(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

impl Form {
    /// Parses `body` with the boundary of `content_type`; `Err` says what is malformed.
    pub fn parse(body: Bytes, content_type: &str) -> Result<Form, String> {
        let boundary = boundary(content_type)
            .ok_or("the content type must be multipart/form-data with a boundary")?;
        let delimiter = format!("--{boundary}");
        let delimiter = delimiter.as_bytes();
        let mut at = find(&body, delimiter, 0).ok_or("the body has no part")?;
        let mut parts = Vec::new();
        loop {
            at += delimiter.len();
            if body.get(at..at + 2) == Some(b"--") {
                break;
            }
            let head_start = at + 2;
            let head_end = find(&body, b"\r\n\r\n", head_start).ok_or("a part has no headers")?;
            let head = std::str::from_utf8(&body[head_start..head_end])
                .map_err(|_| "a part's headers are not text")?;
            let disposition = head
                .split("\r\n")
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim().eq_ignore_ascii_case("content-disposition").then_some(v)
                })
                .ok_or("a part has no Content-Disposition")?;
            let name = parameter(disposition, "name").ok_or("a part has no name")?;
            let value_start = head_end + 4;
            let mut closing = b"\r\n".to_vec();
            closing.extend_from_slice(delimiter);
            let next = find(&body, &closing, value_start).ok_or("the form is not closed")?;
            parts.push(Part {
                name,
                filename: parameter(disposition, "filename"),
                value: value_start..next,
            });
            at = next + 2;
        }
        Ok(Form { body, parts })
    }

    /// The text of field `name` (a part without a file name).
    pub fn text(&self, name: &str) -> Option<&str> {
        let part = self.parts.iter().find(|p| p.name == name && p.filename.is_none())?;
        std::str::from_utf8(&self.body[part.value.clone()]).ok()
    }

    /// How many parts (fields and files) are named `name`.
    pub fn count(&self, name: &str) -> usize {
        self.parts.iter().filter(|p| p.name == name).count()
    }

    /// Whether the form has a file under `name`.
    pub fn has_file(&self, name: &str) -> bool {
        self.parts.iter().any(|p| p.name == name && p.filename.is_some())
    }

    /// The body with field `name`'s value replaced by `value` (every other byte unchanged).
    pub fn with_text(&self, name: &str, value: &str) -> Bytes {
        let Some(part) = self.parts.iter().find(|p| p.name == name && p.filename.is_none()) else {
            return self.body.clone();
        };
        let mut out = Vec::with_capacity(self.body.len() + value.len());
        out.extend_from_slice(&self.body[..part.value.start]);
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(&self.body[part.value.end..]);
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "multipart/form-data; boundary=----b0undary";

    fn body() -> Bytes {
        Bytes::from_static(
            b"------b0undary\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper\r\n\
------b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\
Content-Type: audio/wav\r\n\r\nRIFF\x00\x01\r\n--not-the-end\r\n\
------b0undary\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\njson\r\n\
------b0undary--\r\n",
        )
    }

    #[test]
    fn fields_are_found_and_one_is_replaced_leaving_the_rest() {
        let form = Form::parse(body(), TYPE).unwrap();
        assert_eq!(form.text("model"), Some("whisper"));
        assert_eq!(form.text("response_format"), Some("json"));
        assert!(form.has_file("file") && form.text("file").is_none());
        let renamed = form.with_text("model", "whisper-1-upstream");
        let again = Form::parse(renamed.clone(), TYPE).unwrap();
        assert_eq!(again.text("model"), Some("whisper-1-upstream"));
        let file = &again.parts[1];
        assert_eq!(&renamed[file.value.clone()], b"RIFF\x00\x01\r\n--not-the-end");
        assert_eq!(renamed.len(), body().len() + "-1-upstream".len());
    }

    #[test]
    fn malformed_forms_are_refused() {
        assert!(boundary("application/json").is_none());
        assert_eq!(boundary("multipart/form-data; boundary=\"x y\"").as_deref(), Some("x y"));
        assert!(Form::parse(Bytes::from_static(b"------b0undary\r\n"), TYPE).is_err());
        assert!(Form::parse(Bytes::from_static(b"nothing"), TYPE).is_err());
        let unclosed = b"------b0undary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx";
        assert!(Form::parse(Bytes::from_static(unclosed), TYPE).is_err());
    }
}
