//! Reading and writing the chat bodies of the hot path: every request is read once, written to
//! its upstream, and its answer read and written again.
//!
//! These go through sonic-rs, which scans strings sixteen bytes at a time (`serde_json`: one),
//! through the same `Serialize` and `Deserialize` impls, so the values are the same. Only
//! success is fast-pathed: a body that does not read is read again by the caller with
//! `serde_json`, whose errors name the line, column and path the API reports.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `value` as JSON bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, JsonError> {
    sonic_rs::to_vec(value).map_err(|error| JsonError(error.to_string()))
}

/// `bytes` read as a `T`; `None` when they are not one (ask `serde_json` why).
pub fn from_slice<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Option<T> {
    sonic_rs::from_slice(bytes).ok()
}

/// A value that could not be written as JSON (a map with non-string keys, a failing
/// `Serialize` impl).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsonError {}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::ChatRequest;

    #[test]
    fn writes_the_bytes_serde_json_writes() {
        let values = [
            json!({"a": 1.0, "b": 0.2, "c": 1e300, "d": -0.0, "e": 5e-324, "f": 123_456_789_u64}),
            json!({"text": "quotes \" backslash \\ control \u{1}\u{1f} tab\t é 😀 \u{7f}", "null": null}),
            json!([true, false, [], {}, "", i64::MIN, u64::MAX]),
            json!({"long": "The quick brown fox \"jumps\"\n over the lazy dog. ".repeat(40)}),
        ];
        for value in values {
            assert_eq!(
                String::from_utf8(to_vec(&value).expect("writes")).expect("UTF-8"),
                serde_json::to_string(&value).expect("writes"),
            );
        }
        let request: ChatRequest = serde_json::from_value(json!({
            "model": "auto", "temperature": 1, "top_p": 0.95,
            "messages": [{"role": "user", "content": "hi"}], "seed": 7, "logit_bias": {"50256": -100}
        }))
        .expect("a request");
        assert_eq!(
            to_vec(&request).expect("writes"),
            serde_json::to_vec(&request).expect("writes")
        );
    }

    #[test]
    fn reads_what_serde_json_reads_and_refuses_what_it_refuses() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"caf\u00e9 \ud83d\ude00"}],"x":[1.5,null]}"#;
        let fast: ChatRequest = from_slice(body).expect("reads");
        let slow: ChatRequest = serde_json::from_slice(body).expect("reads");
        assert_eq!(fast, slow);
        let refused: [&[u8]; 7] = [
            b"{\"model\":\"m\",\"messages\":[]} trailing",
            b"{\"model\":\"m\",\"model\":\"n\",\"messages\":[]}",
            b"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}",
            b"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}",
            b"{\"model\":\"m\",\"messages\":[],}",
            b"{\"model\":\"m\"}",
            b"",
        ];
        for body in refused {
            assert!(
                serde_json::from_slice::<ChatRequest>(body).is_err(),
                "serde_json refuses {:?}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(
                from_slice::<ChatRequest>(body),
                None,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(from_slice::<Value>(b"[1, 2"), None);
    }
}
