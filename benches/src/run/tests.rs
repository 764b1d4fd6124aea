use super::*;

#[test]
fn open_loop_requests_are_due_at_fixed_intervals() {
    assert_eq!(due_offset(0, 10_000.0), Duration::ZERO);
    assert_eq!(due_offset(1, 10_000.0), Duration::from_micros(100));
    assert_eq!(due_offset(25_000, 10_000.0), Duration::from_millis(2_500));
    assert_eq!(due_offset(3, 4.0), Duration::from_millis(750));
}

#[test]
fn a_late_request_counts_from_its_due_time() {
    let due = Instant::now();
    let sent = due + Duration::from_millis(30);
    assert_eq!(measured_from(due, sent, false), due);
}

#[test]
fn an_idle_worker_counts_from_its_actual_send() {
    let due = Instant::now();
    let woke = due + Duration::from_micros(900);
    assert_eq!(measured_from(due, woke, true), woke);
}
