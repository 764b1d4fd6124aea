use orkestra_core::{ChatRequest, ChatResponse, Message, Usage};

use super::*;

#[track_caller]
fn check(text: &str, tokens: u32) {
    assert_eq!(text_tokens(text), tokens, "{text:?}");
}

#[test]
fn text_is_about_four_characters_per_token_rounded_up() {
    check("", 0);
    check("a", 1);
    check("abcd", 1);
    check("abcde", 2);
    check(&"x".repeat(400), 100);
    // Characters, not bytes: four 3-byte characters are one token.
    check("日本語だ", 1);
}

#[test]
fn prompt_counts_every_message_with_its_overhead() {
    let request = ChatRequest::new(
        "m",
        vec![
            Message::system("You are terse."),
            Message::user("Hello there"),
        ],
    );
    // 3 priming + (4 + 4) + (4 + 3).
    assert_eq!(prompt_tokens(&request), 18);
}

#[test]
fn missing_usage_is_estimated_and_marked_reported_usage_is_kept() {
    let request = ChatRequest::new("m", vec![Message::user("Hi")]);
    let body = r#"{"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello, world"},"finish_reason":"stop"}]}"#;
    let mut response: ChatResponse = serde_json::from_str(body).unwrap();
    fill_missing(&request, &mut response);
    let usage = response.usage.clone().unwrap();
    assert!(usage.estimated);
    assert_eq!(usage.prompt_tokens, 3 + 4 + 1);
    assert_eq!(usage.completion_tokens, 3);
    assert_eq!(usage.total_tokens, 11);

    response.usage = Some(Usage::new(7, 9));
    fill_missing(&request, &mut response);
    assert_eq!(response.usage, Some(Usage::new(7, 9)));
}
