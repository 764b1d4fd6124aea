use super::*;

#[track_caller]
fn check_split(url: &str, expected: Option<(&str, &str)>) {
    let split = split_url(url).ok();
    let expected = expected.map(|(authority, path)| (authority.to_owned(), path.to_owned()));
    assert_eq!(split, expected, "splitting {url}");
}

#[test]
fn urls_split_into_authority_and_path() {
    check_split(
        "http://127.0.0.1:4000/v1/chat/completions",
        Some(("127.0.0.1:4000", "/v1/chat/completions")),
    );
    check_split("http://localhost:80", Some(("localhost:80", "/")));
    check_split("http://[::1]:8080/x?y=1", Some(("[::1]:8080", "/x?y=1")));
}

#[test]
fn urls_without_port_or_with_another_scheme_are_refused() {
    check_split("https://127.0.0.1:4000/", None);
    check_split("http://127.0.0.1/", None);
    check_split("http://:80/", None);
    check_split("http://127.0.0.1:99999/", None);
}

#[test]
fn the_default_body_is_a_1_kb_chat_request_for_the_model() {
    let body = default_body("sim/m");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(json["model"], "sim/m");
    assert_eq!(json["stream"], false);
    assert_eq!(json["messages"][1]["role"], "user");
    assert!((1000..1400).contains(&body.len()), "{} bytes", body.len());
}

#[test]
fn requests_carry_the_headers_and_the_body() {
    let template = Template::new(
        "http://127.0.0.1:4000/v1/chat/completions",
        Bytes::from_static(b"{}"),
        &[("Authorization".to_owned(), "Bearer sk-1".to_owned())],
    )
    .expect("a template");
    let request = template.request();
    assert_eq!(request.method(), Method::POST);
    assert_eq!(request.uri(), "/v1/chat/completions");
    let headers = request.headers();
    assert_eq!(headers[HOST], "127.0.0.1:4000");
    assert_eq!(headers[CONTENT_TYPE], "application/json");
    assert_eq!(headers[CONTENT_LENGTH], "2");
    assert_eq!(headers["authorization"], "Bearer sk-1");
    assert_eq!(request.body().size_hint().exact(), Some(2));
}

#[test]
fn bad_header_names_are_refused() {
    let template = Template::new(
        "http://127.0.0.1:4000/",
        Bytes::new(),
        &[("bad name".to_owned(), "x".to_owned())],
    );
    assert_eq!(
        template.err(),
        Some(RequestError::Header("bad name: x".to_owned()))
    );
}
