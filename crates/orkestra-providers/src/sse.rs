//! Server-sent events: an incremental decoder, bytes in and events out, and a stream adapter.
//!
//! [`SseDecoder`] follows the WHATWG event-stream rules that matter to a client: `data:` lines
//! (several join with `\n`), `event:` and `id:` fields, `:` comments, lines ended by CRLF, CR
//! or LF, a leading byte-order mark, and an event dispatched at each blank line. Input may be
//! split anywhere, even inside a CRLF or a UTF-8 character: the decoder keeps the unfinished
//! line until the rest arrives. It knows nothing of JSON, so `OpenAI` (`data: {...}` then
//! `data: [DONE]`) and Anthropic (`event: message_start` + `data: {...}`) both use it.
//!
//! ```
//! use orkestra_providers::SseDecoder;
//!
//! let mut decoder = SseDecoder::new();
//! decoder.push(b"event: ping\r\ndata: {\"a\":");
//! assert_eq!(decoder.next_event()?, None, "the event is not finished");
//! decoder.push(b"1}\r\n\r\n: a comment\n");
//! let event = decoder.next_event()?.expect("one event");
//! assert_eq!(event.event.as_deref(), Some("ping"));
//! assert_eq!(event.data, r#"{"a":1}"#);
//! # Ok::<(), orkestra_providers::SseError>(())
//! ```

use orkestra_core::{Error, ErrorCategory, StreamEvent};

use crate::error;
use crate::event_stream::Framing;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, when the event had one (`None` means the default `message`).
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The last `id:` seen in the stream, if any.
    pub id: Option<String>,
}

/// A stream that breaks the event-stream rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// A line is not valid UTF-8.
    #[error("line starting at byte {offset} of the stream is not valid UTF-8")]
    InvalidUtf8 {
        /// Offset of the line's first byte from the start of the stream.
        offset: u64,
    },
    /// One event (or one line) grew past the decoder's limit.
    #[error("event exceeds the {limit}-byte limit")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The input ended in the middle of a line: the connection was cut.
    #[error("stream ended in the middle of a line")]
    Truncated,
}

impl From<SseError> for Error {
    fn from(failure: SseError) -> Self {
        match failure {
            SseError::Truncated => Error::new(
                ErrorCategory::Network,
                "stream ended in the middle of an event: the connection was cut mid-answer",
            ),
            other => error::malformed_stream(&other),
        }
    }
}

/// Default cap on one event, matching [`crate::HttpConfig::max_body_bytes`]'s default.
const DEFAULT_MAX_EVENT_BYTES: usize = 32 * 1024 * 1024;

/// An incremental event-stream decoder: [`push`](Self::push) bytes, then take events with
/// [`next_event`](Self::next_event) until it returns `None`.
#[derive(Debug, Clone)]
pub struct SseDecoder {
    /// Bytes received and not yet consumed start at `start`.
    buffer: Vec<u8>,
    start: usize,
    /// Stream offset of `buffer[0]`, for error messages.
    buffer_offset: u64,
    /// The last line ended with CR: an LF right after it belongs to the same line break.
    after_cr: bool,
    /// Whether the stream's first bytes were checked for a byte-order mark.
    bom_checked: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
    max_event_bytes: usize,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with a 32 MiB limit per event.
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A decoder that fails with [`SseError::TooLarge`] when one event exceeds `limit` bytes.
    pub fn with_max_event_bytes(limit: usize) -> Self {
        Self {
            buffer: Vec::new(),
            start: 0,
            buffer_offset: 0,
            after_cr: false,
            bom_checked: false,
            event: None,
            data: String::new(),
            has_data: false,
            id: None,
            max_event_bytes: limit,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.start == self.buffer.len() {
            self.buffer_offset += self.buffer.len() as u64;
            self.buffer.clear();
            self.start = 0;
        } else if self.start > 4096 && self.start * 2 > self.buffer.len() {
            self.buffer_offset += self.start as u64;
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(chunk);
    }

    /// Whether bytes of an unfinished line or event are waiting.
    pub fn has_pending(&self) -> bool {
        self.start < self.buffer.len() || self.has_data
    }

    /// The next complete event, or `None` until more bytes are pushed.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, SseError> {
        loop {
            if !self.bom_checked {
                let rest = &self.buffer[self.start..];
                let bom = [0xEF, 0xBB, 0xBF];
                if rest.len() < 3 && bom.starts_with(rest) {
                    // Could still be a byte-order mark: wait for more.
                    return Ok(None);
                }
                if rest.starts_with(&bom) {
                    self.start += 3;
                }
                self.bom_checked = true;
            }
            if self.after_cr && self.start < self.buffer.len() {
                if self.buffer[self.start] == b'\n' {
                    self.start += 1;
                }
                self.after_cr = false;
            }
            let rest = &self.buffer[self.start..];
            let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                if rest.len() + self.data.len() > self.max_event_bytes {
                    return Err(SseError::TooLarge {
                        limit: self.max_event_bytes,
                    });
                }
                return Ok(None);
            };
            let line_start = self.start;
            self.after_cr = rest[end] == b'\r';
            self.start += end + 1;
            if let Some(event) = self.line(line_start, line_start + end)? {
                return Ok(Some(event));
            }
        }
    }

    /// Ends the input. An event whose lines all ended but that lacked the closing blank line
    /// is returned (some servers close right after the last `data:` line); bytes of an
    /// unfinished line are [`SseError::Truncated`].
    pub fn finish(&mut self) -> Result<Option<SseEvent>, SseError> {
        if self.start < self.buffer.len() {
            return Err(SseError::Truncated);
        }
        Ok(self.dispatch())
    }

    /// Handles one line; returns an event when the line is blank and data was collected.
    fn line(&mut self, from: usize, to: usize) -> Result<Option<SseEvent>, SseError> {
        let bytes = &self.buffer[from..to];
        if bytes.is_empty() {
            return Ok(self.dispatch());
        }
        if bytes[0] == b':' {
            return Ok(None);
        }
        let line = std::str::from_utf8(bytes).map_err(|_| SseError::InvalidUtf8 {
            offset: self.buffer_offset + from as u64,
        })?;
        let (field, value) = match line.find(':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.data.len() + value.len() + 1 > self.max_event_bytes {
                    return Err(SseError::TooLarge {
                        limit: self.max_event_bytes,
                    });
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            // `retry` only matters to a client that reconnects, and unknown fields are ignored.
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
            id: self.id.clone(),
        })
    }
}

/// A format carried as server-sent events (`OpenAI`, Anthropic): what each event's data means
/// and when the answer is whole.
pub(crate) trait EventFormat: Send + 'static {
    /// The events one event's `data` carries.
    fn event(&mut self, data: &str) -> Result<Vec<StreamEvent>, Error>;
    /// The events still owed when the body ends, or the error of a stream cut before its
    /// answer was whole.
    fn end(&mut self) -> Result<Vec<StreamEvent>, Error>;
    /// Whether the format's terminator was seen: nothing after it is read.
    fn is_done(&self) -> bool;
    /// Whether the answer is whole even without its terminator: a body that then ends in the
    /// middle of one more event lost nothing of the answer, so that is not a cut.
    fn is_complete(&self) -> bool;
}

/// An [`EventFormat`] behind an [`SseDecoder`], as a [`Framing`] of body chunks.
pub(crate) struct Framed<F> {
    decoder: SseDecoder,
    format: F,
}

impl<F> Framed<F> {
    /// `format`, reading events of at most `max_event_bytes` each.
    pub(crate) fn new(format: F, max_event_bytes: usize) -> Self {
        Self {
            decoder: SseDecoder::with_max_event_bytes(max_event_bytes),
            format,
        }
    }
}

impl<F: EventFormat> Framing for Framed<F> {
    fn chunk(&mut self, chunk: &[u8], events: &mut Vec<StreamEvent>) -> Result<(), Error> {
        self.decoder.push(chunk);
        while !self.format.is_done()
            && let Some(event) = self.decoder.next_event()?
        {
            events.extend(self.format.event(&event.data)?);
        }
        Ok(())
    }

    fn end(&mut self, events: &mut Vec<StreamEvent>) -> Result<(), Error> {
        match self.decoder.finish() {
            Ok(Some(event)) => events.extend(self.format.event(&event.data)?),
            Ok(None) => {}
            Err(SseError::Truncated) if self.format.is_complete() => {}
            Err(failure) => return Err(failure.into()),
        }
        if !self.format.is_done() {
            events.extend(self.format.end()?);
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.format.is_done()
    }
}

#[cfg(test)]
mod tests;
