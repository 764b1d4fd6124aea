use super::*;

fn entry(request_number: u64) -> LoggedRequest {
    LoggedRequest {
        format: WireFormat::OpenAi,
        path: "/v1/chat/completions".into(),
        model: "m".into(),
        stream: false,
        request_number,
        fault: None,
        status: Some(200),
        received_at: SystemTime::UNIX_EPOCH,
    }
}

#[test]
fn the_log_keeps_only_the_latest_entries() {
    let log = RequestLog::default();
    for number in 1..=RequestLog::CAPACITY as u64 + 5 {
        log.push(entry(number));
    }
    let entries = log.snapshot();
    assert_eq!(entries.len(), RequestLog::CAPACITY);
    assert_eq!(entries[0].request_number, 6);
    assert_eq!(
        entries.last().map(|entry| entry.request_number),
        Some(RequestLog::CAPACITY as u64 + 5)
    );
    log.clear();
    assert!(log.snapshot().is_empty());
}
