use proptest::prelude::*;

use super::*;

/// Decodes `input` fed as `pieces` (split points), returning the events and the end result.
fn decode_split(input: &[u8], splits: &[usize]) -> Result<Vec<SseEvent>, SseError> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    let mut previous = 0;
    let mut points: Vec<usize> = splits.iter().map(|&at| at.min(input.len())).collect();
    points.sort_unstable();
    points.push(input.len());
    for at in points {
        decoder.push(&input[previous..at]);
        previous = at;
        while let Some(event) = decoder.next_event()? {
            events.push(event);
        }
    }
    if let Some(event) = decoder.finish()? {
        events.push(event);
    }
    Ok(events)
}

fn event(kind: Option<&str>, data: &str) -> SseEvent {
    SseEvent {
        event: kind.map(str::to_owned),
        data: data.to_owned(),
        id: None,
    }
}

#[track_caller]
fn check(input: &str, expected: &[SseEvent]) {
    assert_eq!(decode_split(input.as_bytes(), &[]).unwrap(), expected);
}

#[test]
fn data_event_comment_and_line_endings() {
    check("data: hello\n\n", &[event(None, "hello")]);
    check("data:hello\r\n\r\n", &[event(None, "hello")]);
    check(
        "data: hello\r\rdata: again\r\r",
        &[event(None, "hello"), event(None, "again")],
    );
    check("data: a\ndata: b\ndata:\n\n", &[event(None, "a\nb\n")]);
    check(
        ": keep-alive\n\n: another\ndata: x\n\n",
        &[event(None, "x")],
    );
    check(
        "event: message_start\ndata: {\"type\":\"message_start\"}\n\n",
        &[event(Some("message_start"), "{\"type\":\"message_start\"}")],
    );
    // Only one leading space is stripped from a value.
    check("data:  two\n\n", &[event(None, " two")]);
    // An event type without data dispatches nothing, and does not leak into the next event.
    check("event: ping\n\ndata: x\n\n", &[event(None, "x")]);
    // Unknown fields and `retry` are ignored; a field without a colon has an empty value.
    check("retry: 10\nfoo: bar\ndata\n\n", &[event(None, "")]);
    // A byte-order mark at the start is skipped.
    check("\u{feff}data: bom\n\n", &[event(None, "bom")]);
}

#[test]
fn id_is_kept_across_events() {
    let events = decode_split(b"id: 7\ndata: a\n\ndata: b\n\n", &[]).unwrap();
    assert_eq!(events[0].id.as_deref(), Some("7"));
    assert_eq!(events[1].id.as_deref(), Some("7"));
}

#[test]
fn last_event_without_blank_line_is_returned_at_the_end() {
    check("data: [DONE]\n", &[event(None, "[DONE]")]);
}

#[test]
fn input_ending_mid_line_is_truncated() {
    assert_eq!(
        decode_split(b"data: {\"id\":\"x\"", &[]),
        Err(SseError::Truncated)
    );
}

#[test]
fn invalid_utf8_names_the_offset() {
    assert_eq!(
        decode_split(b"data: a\n\ndata: \xff\xfe\n\n", &[4]),
        Err(SseError::InvalidUtf8 { offset: 9 })
    );
}

#[test]
fn events_over_the_limit_fail_instead_of_growing() {
    let mut decoder = SseDecoder::with_max_event_bytes(16);
    decoder.push(b"data: 0123456789\ndata: 0123456789\n");
    assert_eq!(decoder.next_event(), Err(SseError::TooLarge { limit: 16 }));

    let mut decoder = SseDecoder::with_max_event_bytes(16);
    decoder.push(&[b'x'; 64]);
    assert_eq!(decoder.next_event(), Err(SseError::TooLarge { limit: 16 }));
}

#[test]
fn crlf_split_between_chunks_is_one_line_break() {
    let input = b"data: a\r\n\r\ndata: b\r\n\r\n";
    for at in 0..input.len() {
        assert_eq!(
            decode_split(input, &[at]).unwrap(),
            vec![event(None, "a"), event(None, "b")],
            "split at {at}"
        );
    }
}

/// Collects each event's data; whole after `[end]`, done after `[done]`.
#[derive(Default)]
struct Collect {
    seen: Vec<String>,
    complete: bool,
    done: bool,
}

impl EventFormat for Collect {
    fn event(&mut self, data: &str) -> Result<Vec<StreamEvent>, Error> {
        self.seen.push(data.to_owned());
        self.complete |= data == "[end]";
        self.done |= data == "[done]";
        Ok(Vec::new())
    }
    fn end(&mut self) -> Result<Vec<StreamEvent>, Error> {
        if self.complete {
            Ok(Vec::new())
        } else {
            Err(error::stream_cut("[end]"))
        }
    }
    fn is_done(&self) -> bool {
        self.done
    }
    fn is_complete(&self) -> bool {
        self.complete || self.done
    }
}

#[test]
fn framed_events_reach_the_format_and_a_cut_before_the_answer_is_whole_is_an_error() {
    let framed = |chunks: &[&[u8]]| {
        let mut framed = Framed::new(Collect::default(), 1024);
        let mut events = Vec::new();
        let mut result = Ok(());
        for chunk in chunks {
            result = framed.chunk(chunk, &mut events);
        }
        let end = result.and_then(|()| framed.end(&mut events));
        (framed.format.seen, end.map_err(|e| e.class.category))
    };
    // A body cut in the middle of an event before the answer is whole.
    assert_eq!(
        framed(&[b"data: one\n\nda", b"ta: two\n\ndata: thr"]),
        (
            vec!["one".to_owned(), "two".to_owned()],
            Err(ErrorCategory::Network)
        )
    );
    // The same cut once the answer is whole: nothing was lost.
    assert_eq!(
        framed(&[b"data: [end]\n\ndata: thr"]),
        (vec!["[end]".to_owned()], Ok(()))
    );
    // A last event without its blank line still counts.
    assert_eq!(
        framed(&[b"data: [end]\n"]),
        (vec!["[end]".to_owned()], Ok(()))
    );
    // Nothing after the terminator is read.
    assert_eq!(
        framed(&[b"data: [done]\n\ndata: late\n\n"]),
        (vec!["[done]".to_owned()], Ok(()))
    );
}

/// Event-stream text built from arbitrary lines, with every line ending style.
fn stream_text() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        "[a-z {}\":,é日]{0,12}".prop_map(|value| format!("data: {value}")),
        "[a-z_]{1,8}".prop_map(|value| format!("event: {value}")),
        "[a-z ]{0,8}".prop_map(|value| format!(": {value}")),
        Just(String::new()),
    ];
    let ending = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
    prop::collection::vec((field, ending), 0..24).prop_map(|lines| {
        let mut text = String::new();
        for (line, ending) in lines {
            text.push_str(&line);
            text.push_str(ending);
        }
        // End on a blank line so the input is complete wherever it is split.
        text.push_str("\n\n");
        text.into_bytes()
    })
}

proptest! {
    #[test]
    fn splitting_the_input_anywhere_gives_the_same_events(
        input in stream_text(),
        splits in prop::collection::vec(0usize..400, 0..12),
    ) {
        let whole = decode_split(&input, &[]);
        let split = decode_split(&input, &splits);
        prop_assert_eq!(&whole, &split);
        // One byte at a time is the extreme split.
        let every: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(whole, decode_split(&input, &every));
    }
}
