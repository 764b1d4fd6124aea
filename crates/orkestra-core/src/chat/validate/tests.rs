use serde_json::{Value, json};

use crate::chat::ChatRequest;

/// A valid request with `fields` set over it (a `null` field is removed).
fn request(fields: &Value) -> ChatRequest {
    let mut body = json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}]});
    for (key, value) in fields.as_object().expect("an object") {
        body[key] = value.clone();
    }
    serde_json::from_value(body).expect("the request parses")
}

#[track_caller]
fn check(fields: &Value, param: &str, message: &str) {
    let error = request(fields)
        .validate()
        .expect_err("the request should be refused");
    assert_eq!(
        (error.param.as_str(), error.message.as_str()),
        (param, message)
    );
}

#[track_caller]
fn check_valid(fields: &Value) {
    if let Err(error) = request(fields).validate() {
        panic!("{fields} was refused: {error}");
    }
}

#[test]
fn sampling_parameters_must_be_in_their_documented_ranges() {
    check(
        &json!({"temperature": -1}),
        "temperature",
        "`temperature` must be a number from 0 to 2, got the number -1",
    );
    check(
        &json!({"temperature": 100}),
        "temperature",
        "`temperature` must be a number from 0 to 2, got the number 100",
    );
    check(
        &json!({"top_p": 5}),
        "top_p",
        "`top_p` must be a number from 0 to 1, got the number 5",
    );
    check(
        &json!({"presence_penalty": "high"}),
        "presence_penalty",
        "`presence_penalty` must be a number from -2 to 2, got the string \"high\"",
    );
    check(
        &json!({"max_tokens": 0}),
        "max_tokens",
        "`max_tokens` must be at least 1, got the number 0",
    );
    check_valid(&json!({"temperature": 0, "top_p": 1, "frequency_penalty": -2, "max_tokens": 1}));
    check_valid(&json!({"temperature": 2, "presence_penalty": null}));
}

#[test]
fn n_must_be_one_because_one_choice_is_answered() {
    for n in [json!(0), json!(3), json!(100)] {
        check(
            &json!({"n": n}),
            "n",
            &format!("`n` must be 1: orkestra answers one choice per request, got the number {n}"),
        );
    }
    check(
        &json!({"n": "two"}),
        "n",
        "`n` must be a whole number, and 1: orkestra answers one choice per request, got the string \"two\"",
    );
    check_valid(&json!({"n": 1}));
    check_valid(&json!({"n": null}));
}

#[test]
fn stop_is_a_string_or_up_to_four_strings() {
    check(
        &json!({"stop": 5}),
        "stop",
        "`stop` must be a string or a list of up to 4 strings, got the number 5",
    );
    check(
        &json!({"stop": ["a", "b", "c", "d", "e"]}),
        "stop",
        "`stop` must be a string or a list of up to 4 strings, got a list",
    );
    check(
        &json!({"stop": ["a", 1]}),
        "stop",
        "`stop` must be a string or a list of up to 4 strings, got a list",
    );
    check_valid(&json!({"stop": "\n"}));
    check_valid(&json!({"stop": ["a", "b", "c", "d"]}));
}

#[test]
fn tool_choice_has_the_documented_forms_and_needs_tools_to_call_one() {
    let tools = json!([{"type": "function", "function": {"name": "lookup"}}]);
    check(
        &json!({"tool_choice": 5}),
        "tool_choice",
        "`tool_choice` must be `none`, `auto`, `required` or an object with a `type`, got the number 5",
    );
    check(
        &json!({"tool_choice": "sometimes", "tools": tools}),
        "tool_choice",
        "`tool_choice` must be `none`, `auto`, `required` or an object with a `type`, got the string \"sometimes\"",
    );
    check(
        &json!({"tool_choice": "required"}),
        "tool_choice",
        "`tool_choice` asks for a tool call, so `tools` must list at least one tool",
    );
    check(
        &json!({"tool_choice": {"type": "function", "function": {"name": "other"}}, "tools": tools}),
        "tool_choice.function.name",
        "`tool_choice.function.name` must be the name of a function in `tools`, got `other`",
    );
    check_valid(&json!({"tool_choice": "auto"}));
    check_valid(&json!({"tool_choice": "required", "tools": tools}));
    check_valid(
        &json!({"tool_choice": {"type": "function", "function": {"name": "lookup"}}, "tools": tools}),
    );
}

#[test]
fn response_format_type_is_one_the_api_knows() {
    check(
        &json!({"response_format": {"type": "nonsense"}}),
        "response_format.type",
        "`response_format.type` must be `text`, `json_object` or `json_schema`, got the string \"nonsense\"",
    );
    check(
        &json!({"response_format": "json"}),
        "response_format",
        "`response_format` must be an object with a `type`, got the string \"json\"",
    );
    check(
        &json!({"response_format": {"type": "json_schema"}}),
        "response_format.json_schema",
        "`response_format.json_schema` must be an object with a `name` and a `schema`",
    );
    check_valid(&json!({"response_format": {"type": "json_object"}}));
}

#[test]
fn messages_have_content_and_tool_results_name_their_call() {
    check(
        &json!({"messages": []}),
        "messages",
        "`messages` must be a list of at least one message, got an empty list",
    );
    check(
        &json!({"messages": [{"role": "user", "content": []}]}),
        "messages[0].content",
        "`messages[0].content` must be a string or a list of at least one content part, got an empty list",
    );
    check(
        &json!({"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "42"}]}),
        "messages[1].tool_call_id",
        "`messages[1].tool_call_id` must name the tool call this `tool` message answers",
    );
    check(
        &json!({"messages": [{"role": "system"}]}),
        "messages[0].content",
        "`messages[0].content` must be given on a `system` message",
    );
    check(
        &json!({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": null}]}),
        "messages[1].content",
        "`messages[1].content` must be given when the message has no `tool_calls`",
    );
}

#[test]
fn stream_options_need_a_stream() {
    check(
        &json!({"stream_options": {"include_usage": true}}),
        "stream_options",
        "`stream_options` is only allowed with `stream: true`",
    );
    check_valid(&json!({"stream": true, "stream_options": {"include_usage": true}}));
}

#[test]
fn every_request_fixture_is_valid() {
    for fixture in [
        include_str!("../../../tests/fixtures/openai/request_basic.json"),
        include_str!("../../../tests/fixtures/openai/request_system.json"),
        include_str!("../../../tests/fixtures/openai/request_vision.json"),
        include_str!("../../../tests/fixtures/openai/request_tools.json"),
        include_str!("../../../tests/fixtures/openai/request_tool_results.json"),
        include_str!("../../../tests/fixtures/openai/request_json_schema.json"),
    ] {
        let request: ChatRequest = serde_json::from_str(fixture).expect("a fixture parses");
        if let Err(error) = request.validate() {
            panic!("{error}\n{fixture}");
        }
    }
}
