use orkestra_core::{ChatRequest, Content, ContentPart, ImageUrl, Message, Tool};
use serde_json::json;

use crate::TaskAnalyzer;

/// Requests with every part that costs tokens: plain and non-Latin text, several turns,
/// images at both details, tool definitions and tool calls.
fn requests() -> Vec<ChatRequest> {
    let mut pictures = Message::user("");
    pictures.content = Some(Content::Parts(vec![
        ContentPart::Text {
            text: "Compare these two pictures.".to_owned(),
        },
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: "https://example.com/a.png".to_owned(),
                detail: Some("low".to_owned()),
            },
        },
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: "https://example.com/b.png".to_owned(),
                detail: None,
            },
        },
    ]));
    let mut with_tools = ChatRequest::new(
        "auto",
        vec![
            Message::system("You are a weather assistant."),
            Message::user("What's the weather in Oslo and in 東京?"),
            serde_json::from_value(json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]
            }))
            .unwrap(),
            serde_json::from_value(json!({
                "role": "tool", "tool_call_id": "call_1", "content": "{\"celsius\": 4}"
            }))
            .unwrap(),
        ],
    );
    let tool: Tool = serde_json::from_value(json!({
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}
        }
    }))
    .unwrap();
    with_tools.tools = Some(vec![tool]);
    vec![
        ChatRequest::new("auto", vec![Message::user("Hi")]),
        ChatRequest::new(
            "auto",
            vec![Message::user("Переведи на английский: доброе утро, мир.")],
        ),
        ChatRequest::new("auto", vec![Message::user("word ".repeat(20_000))]),
        ChatRequest::new("auto", vec![pictures]),
        with_tools,
    ]
}

#[test]
fn the_input_estimate_alone_equals_the_analysis() {
    let analyzer = TaskAnalyzer::new();
    for request in requests() {
        assert_eq!(
            analyzer.input_tokens(&request),
            analyzer.analyze(&request).input_tokens,
            "{request:?}"
        );
    }
}
