//! AWS event-stream framing (`application/vnd.amazon.eventstream`), what ConverseStream answers
//! in: binary messages of a prelude (total length, headers length, prelude CRC32), typed headers,
//! a payload and a message CRC32. Read into the same `SseEvent`s the other codecs' framings give:
//! the `:event-type` (or `exception:<type>` / `error:<code>`) as the event name, the payload as
//! its data.

use bytes::{BufMut, BytesMut};

use crate::sse::SseEvent;

/// The largest message accepted (ConverseStream's are small; a bigger length is a broken or
/// hostile stream).
const MAX_MESSAGE: usize = 16 << 20;
const PRELUDE: usize = 12;

/// CRC-32 (IEEE 802.3, as zlib), by table.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

fn be32(bytes: &[u8]) -> usize {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize
}

/// Splits a byte stream into event-stream messages.
#[derive(Debug, Default)]
pub struct EventStreamReader {
    buffer: Vec<u8>,
}

impl EventStreamReader {
    /// The messages completed by `chunk`, or what is wrong with the stream.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, String> {
        self.buffer.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut start = 0;
        while self.buffer.len() - start >= PRELUDE {
            let at = &self.buffer[start..];
            let total = be32(&at[0..4]);
            let headers = be32(&at[4..8]);
            if crc32(&at[0..8]) as usize != be32(&at[8..12]) {
                return Err("event stream: prelude checksum mismatch".into());
            }
            if !(PRELUDE + 4..=MAX_MESSAGE).contains(&total) || headers > total - PRELUDE - 4 {
                return Err(format!("event stream: a message of {total} bytes is not valid"));
            }
            if at.len() < total {
                break;
            }
            let message = &at[..total];
            if crc32(&message[..total - 4]) as usize != be32(&message[total - 4..]) {
                return Err("event stream: message checksum mismatch".into());
            }
            let header_bytes = &message[PRELUDE..PRELUDE + headers];
            let payload = &message[PRELUDE + headers..total - 4];
            out.push(event(header_bytes, payload)?);
            start += total;
        }
        self.buffer.drain(..start);
        Ok(out)
    }

    /// Bytes left over at the end that do not make a message.
    pub fn leftover(&self) -> usize {
        self.buffer.len()
    }
}

/// A message as an event named by its kind.
fn event(mut headers: &[u8], payload: &[u8]) -> Result<SseEvent, String> {
    let broken = || "event stream: malformed headers".to_owned();
    let (mut message_type, mut event_type, mut exception, mut code, mut error) =
        (None, None, None, None, None);
    while !headers.is_empty() {
        let name_len = usize::from(headers[0]);
        let name = headers.get(1..1 + name_len).ok_or_else(broken)?;
        let kind = *headers.get(1 + name_len).ok_or_else(broken)?;
        let rest = &headers[2 + name_len..];
        let (value, used): (Option<&[u8]>, usize) = match kind {
            0 | 1 => (None, 0),
            2 => (None, 1),
            3 => (None, 2),
            4 => (None, 4),
            5 | 8 => (None, 8),
            9 => (None, 16),
            6 | 7 => {
                let len = usize::from(u16::from_be_bytes([
                    *rest.first().ok_or_else(broken)?,
                    *rest.get(1).ok_or_else(broken)?,
                ]));
                (Some(rest.get(2..2 + len).ok_or_else(broken)?), 2 + len)
            }
            _ => return Err(broken()),
        };
        if rest.len() < used {
            return Err(broken());
        }
        let text = value.map(|v| String::from_utf8_lossy(v).into_owned());
        match name {
            b":message-type" => message_type = text,
            b":event-type" => event_type = text,
            b":exception-type" => exception = text,
            b":error-code" => code = text,
            b":error-message" => error = text,
            _ => {}
        }
        headers = &rest[used..];
    }
    let data = String::from_utf8_lossy(payload).into_owned();
    let (name, data) = match message_type.as_deref() {
        Some("exception") => (format!("exception:{}", exception.unwrap_or_default()), data),
        Some("error") => {
            let message = serde_json::json!({"message": error.unwrap_or_default()});
            (format!("error:{}", code.unwrap_or_default()), message.to_string())
        }
        _ => (event_type.unwrap_or_default(), data),
    };
    Ok(SseEvent { event: Some(name), data, id: None, retry: None })
}

/// Writes one event-stream message with string headers.
pub(crate) fn write_message(out: &mut BytesMut, headers: &[(&str, &str)], payload: &[u8]) {
    let mut head = Vec::new();
    for (name, value) in headers {
        head.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        head.extend_from_slice(&name.as_bytes()[..name.len().min(255)]);
        head.push(7);
        let value = &value.as_bytes()[..value.len().min(u16::MAX as usize)];
        head.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
        head.extend_from_slice(value);
    }
    let total = PRELUDE + head.len() + payload.len() + 4;
    let mut message = Vec::with_capacity(total);
    message.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
    message.extend_from_slice(&u32::try_from(head.len()).unwrap_or(u32::MAX).to_be_bytes());
    let prelude_crc = crc32(&message[..8]);
    message.extend_from_slice(&prelude_crc.to_be_bytes());
    message.extend_from_slice(&head);
    message.extend_from_slice(payload);
    let crc = crc32(&message);
    message.extend_from_slice(&crc.to_be_bytes());
    out.put_slice(&message);
}

/// An event message (`:message-type: event`) of `event_type` carrying JSON `payload`.
pub(crate) fn write_event(out: &mut BytesMut, event_type: &str, payload: &str) {
    let headers = [
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ];
    write_message(out, &headers, payload.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_zlibs() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn messages_split_anywhere_read_back_and_corruption_is_refused() {
        let mut out = BytesMut::new();
        write_event(
            &mut out,
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"世界"}}"#,
        );
        let exception =
            [(":message-type", "exception"), (":exception-type", "throttlingException")];
        write_message(&mut out, &exception, br#"{"message":"slow down"}"#);
        for cut in 0..out.len() {
            let mut reader = EventStreamReader::default();
            let mut events = reader.push(&out[..cut]).unwrap();
            events.extend(reader.push(&out[cut..]).unwrap());
            assert_eq!(events.len(), 2, "cut at {cut}");
            assert_eq!(events[0].event.as_deref(), Some("contentBlockDelta"));
            assert!(events[0].data.contains("世界"));
            assert_eq!(events[1].event.as_deref(), Some("exception:throttlingException"));
            assert_eq!(reader.leftover(), 0);
        }
        let mut bad = out.to_vec();
        let last = bad.len() - 10;
        bad[last] ^= 1;
        assert!(EventStreamReader::default().push(&bad).unwrap_err().contains("checksum"));
        let mut bad = out.to_vec();
        bad[2] ^= 0x40;
        assert!(EventStreamReader::default().push(&bad).is_err());
    }
}
