use super::*;

const REPORT: &str = "\
Running 5s test @ http://127.0.0.1:40000/v1/chat/completions
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.23ms    2.34ms  40.00ms   95.00%
    Req/Sec    33.00k     2.00k   36.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.50ms
     99%    2.00s
  164000 requests in 5.00s, 250.00MB read
  Socket errors: connect 0, read 3, write 0, timeout 0
  Non-2xx or 3xx responses: 2
Requests/sec:  32800.50
Transfer/sec:     50.00MB
";

#[test]
fn the_wrk_report_is_read_with_units() {
    let measured = parse_wrk(REPORT).expect("a report");
    assert!((measured.requests_per_second - 32800.5).abs() < 1e-9);
    assert_eq!(
        measured.percentiles_us,
        [(50, 812.0), (75, 1100.0), (90, 1500.0), (99, 2_000_000.0)]
    );
    assert_eq!(measured.non_2xx, 2);
    assert_eq!(
        measured.socket_errors.as_deref(),
        Some("Socket errors: connect 0, read 3, write 0, timeout 0")
    );
}

#[test]
fn a_report_without_a_rate_is_an_error() {
    let error =
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused").expect_err("no rate");
    assert!(error.to_string().contains("Requests/sec"), "{error}");
}

#[test]
fn the_script_body_is_about_one_kilobyte_of_json() {
    let script = lua_script();
    let body = script
        .split("wrk.body = '")
        .nth(1)
        .and_then(|rest| rest.strip_suffix("'\n"))
        .expect("a body");
    assert!(body.starts_with('{') && body.ends_with('}'), "{body}");
    assert!(body.contains(r#""stream":false"#), "{body}");
    assert!(!body.contains('\''), "the Lua string is single-quoted");
    assert!((1000..1300).contains(&body.len()), "{}", body.len());
}
