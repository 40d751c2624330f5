//! Protocol-agnostic incremental Server-Sent Events decoder: push bytes as they arrive, pull
//! complete events. Handles CR, LF and CRLF line ends (even split across chunks), multi-line data,
//! comments, a leading BOM, and UTF-8 characters split across chunks.

use bytes::{Buf, BytesMut};

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when present.
    pub event: Option<String>,
    /// All `data:` lines joined by `\n`.
    pub data: String,
    pub id: Option<String>,
    pub retry: Option<u64>,
}

/// A line grew past the limit: the upstream is not speaking SSE (or is hostile).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SSE line longer than {0} bytes")]
pub struct LineTooLong(pub usize);

/// Push-bytes / pull-events state machine.
#[derive(Debug)]
pub struct SseDecoder {
    buf: BytesMut,
    /// The last chunk ended in CR: a LF at the start of the next one belongs to it.
    skip_lf: bool,
    started: bool,
    pending: SseEvent,
    has_fields: bool,
    max_line: usize,
    /// How much of `buf` is known to hold no line end: a line arriving in many chunks is scanned
    /// once, not once per chunk (which would be quadratic in its length).
    scanned: usize,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// Lines may be up to 16 MiB (a base64 image in one delta is large but not that large).
    pub fn new() -> Self {
        Self::with_max_line(16 << 20)
    }

    pub fn with_max_line(max_line: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            skip_lf: false,
            started: false,
            pending: SseEvent::default(),
            has_fields: false,
            max_line,
            scanned: 0,
        }
    }

    /// Feeds `chunk` and returns every event it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        let mut chunk = chunk;
        if self.skip_lf && !chunk.is_empty() {
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
            self.skip_lf = false;
        }
        self.buf.extend_from_slice(chunk);
        if !self.started && self.buf.len() >= 3 {
            if self.buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.buf.advance(3);
                self.scanned = 0;
            }
            self.started = true;
        }
        let mut events = Vec::new();
        while let Some(found) =
            self.buf[self.scanned..].iter().position(|&b| b == b'\n' || b == b'\r')
        {
            let end = self.scanned + found;
            self.scanned = 0;
            let line = self.buf.split_to(end);
            let terminator = self.buf[0];
            self.buf.advance(1);
            if terminator == b'\r' {
                match self.buf.first() {
                    Some(b'\n') => self.buf.advance(1),
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            self.started = true;
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        self.scanned = self.buf.len();
        if self.buf.len() > self.max_line {
            return Err(LineTooLong(self.max_line));
        }
        Ok(events)
    }

    /// Ends the stream: returns an event left without its final blank line, if it has data.
    /// (The SSE spec discards it; upstreams that forget the last blank line are common enough
    /// that keeping it is kinder, and a half-received line is still dropped.)
    pub fn finish(&mut self) -> Option<SseEvent> {
        self.buf.clear();
        self.scanned = 0;
        self.dispatch()
    }

    fn line(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.find(':') {
            Some(i) => {
                let value = &text[i + 1..];
                (&text[..i], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (&text[..], ""),
        };
        match field {
            "data" => {
                if self.has_data() {
                    self.pending.data.push('\n');
                }
                self.pending.data.push_str(value);
                self.has_fields = true;
            }
            "event" => self.pending.event = Some(value.to_owned()),
            "id" if !value.contains('\0') => self.pending.id = Some(value.to_owned()),
            "retry" => self.pending.retry = value.parse().ok(),
            _ => {}
        }
        None
    }

    fn has_data(&self) -> bool {
        self.has_fields
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.pending);
        let had_data = std::mem::replace(&mut self.has_fields, false);
        // Per the spec an event with no data lines is not dispatched; an `event:` line alone still
        // counts here because some upstreams (Anthropic's `ping`) rely on the name.
        (had_data || event.event.is_some()).then_some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(d.push(c).unwrap());
        }
        out.extend(d.finish());
        out
    }

    fn data(s: &str) -> SseEvent {
        SseEvent { data: s.into(), ..Default::default() }
    }

    #[test]
    fn decodes_lf_crlf_and_cr_line_ends() {
        for sep in ["\n", "\r\n", "\r"] {
            let text = format!("data: a{sep}{sep}data: b{sep}{sep}");
            assert_eq!(all(&[text.as_bytes()]), vec![data("a"), data("b")], "{sep:?}");
        }
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        assert_eq!(all(&[b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]), vec![data("a"), data("b")]);
    }

    #[test]
    fn multi_line_data_joins_with_newline() {
        assert_eq!(all(&[b"data: one\ndata:two\n\n"]), vec![data("one\ntwo")]);
    }

    #[test]
    fn comments_are_skipped_and_fields_kept() {
        let events = all(&[b": keep-alive\nevent: message_start\nid: 7\nretry: 100\ndata: {}\n\n"]);
        assert_eq!(
            events,
            vec![SseEvent {
                event: Some("message_start".into()),
                data: "{}".into(),
                id: Some("7".into()),
                retry: Some(100),
            }]
        );
    }

    #[test]
    fn utf8_split_across_chunks_survives() {
        let text = "data: héllo 世界\n\n".as_bytes();
        for cut in 1..text.len() {
            assert_eq!(all(&[&text[..cut], &text[cut..]]), vec![data("héllo 世界")], "cut {cut}");
        }
    }

    #[test]
    fn every_byte_chunking_decodes_the_same() {
        let text = b"event: a\r\ndata: 1\r\n\r\n: c\ndata: 2\ndata: 3\n\ndata: [DONE]\n\n";
        let whole = all(&[text]);
        assert_eq!(whole.len(), 3);
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(all(&bytes), whole);
        for size in 2..7 {
            let chunks: Vec<&[u8]> = text.chunks(size).collect();
            assert_eq!(all(&chunks), whole, "chunk size {size}");
        }
    }

    #[test]
    fn a_long_line_in_many_chunks_is_one_event_and_a_bom_split_from_its_line_is_still_skipped() {
        let mut d = SseDecoder::new();
        let mut events = d.push(b"data: ").unwrap();
        for _ in 0..10_000 {
            events.extend(d.push(b"xxxxxxxx").unwrap());
        }
        events.extend(d.push(b"\n\n").unwrap());
        assert_eq!(events, vec![data(&"x".repeat(80_000))]);
        let mut d = SseDecoder::new();
        let mut events = d.push(&[0xEF, 0xBB]).unwrap();
        events.extend(
            d.push(&[0xBF, b'\n', b'd', b'a', b't', b'a', b':', b'1', b'\n', b'\n']).unwrap(),
        );
        assert_eq!(events, vec![data("1")]);
    }

    #[test]
    fn leading_bom_is_ignored() {
        assert_eq!(all(&[b"\xEF\xBB", b"\xBFdata: x\n\n"]), vec![data("x")]);
    }

    #[test]
    fn unterminated_last_event_is_kept_but_partial_line_dropped() {
        assert_eq!(all(&[b"data: a\n"]), vec![data("a")]);
        assert_eq!(all(&[b"data: a\n\ndata: parti"]), vec![data("a")]);
    }

    #[test]
    fn overlong_line_is_an_error_not_a_memory_leak() {
        let mut d = SseDecoder::with_max_line(8);
        assert!(d.push(b"data: 0123456789").is_err());
    }

    #[test]
    fn empty_data_field_dispatches_empty_string() {
        assert_eq!(all(&[b"data\n\n"]), vec![data("")]);
    }
}
