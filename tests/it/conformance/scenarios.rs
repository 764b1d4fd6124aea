//! The scenarios without faults: plain chat, streaming, usage and multi-turn, each for every
//! target. Parts that depend on the simulator (fixed, scripted and generated output, fixed
//! usage, the request log) run for the wire targets only.

use orkestra_core::{ChatRequest, ChatResponse, FinishReason, Message, Usage};
use orkestra_mock::{FixedUsage, ModelBehaviour, Output};

use super::{Streamed, Subject, Target, stream_chat};

/// A plain call that must succeed.
async fn chat(subject: &Subject, request: &ChatRequest) -> ChatResponse {
    subject
        .backend
        .chat(request)
        .await
        .unwrap_or_else(|error| panic!("plain call to `{}` failed: {error}", request.model))
}

/// A streamed call that must complete: the answer and how many events carried its text.
async fn stream_counted(subject: &Subject, request: &ChatRequest) -> (ChatResponse, usize) {
    match stream_chat(subject.backend.as_ref(), request).await {
        Streamed::Complete {
            response,
            text_deltas,
        } => (response, text_deltas),
        Streamed::Failed(error) => panic!("stream of `{}` failed: {error}", request.model),
        Streamed::Truncated(text) => {
            panic!(
                "stream of `{}` ended without a finish after {text:?}",
                request.model
            )
        }
    }
}

/// A streamed call that must complete.
async fn stream(subject: &Subject, request: &ChatRequest) -> ChatResponse {
    stream_counted(subject, request).await.0
}

fn ask(model: &str, text: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user(text)])
}

/// The usage of an answer, which every target must report, consistent, and not estimated
/// (every format the simulator speaks reports usage, and echo counts its own).
#[track_caller]
fn reported_usage(response: &ChatResponse, what: &str) -> Usage {
    let usage = response
        .usage
        .clone()
        .unwrap_or_else(|| panic!("{what}: no usage"));
    assert!(
        !usage.estimated,
        "{what}: usage marked estimated: {usage:?}"
    );
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens,
        "{what}: total is not the sum"
    );
    usage
}

pub(super) async fn plain_chat(target: Target) {
    let subject = target
        .start(vec![
            ModelBehaviour::echo("echo"),
            ModelBehaviour {
                output: Output::Fixed("The answer is 42.".to_owned()),
                ..ModelBehaviour::echo("fixed")
            },
            ModelBehaviour {
                output: Output::Script(vec!["first".into(), "second".into(), "third".into()]),
                ..ModelBehaviour::echo("script")
            },
            ModelBehaviour {
                output: Output::Generated { tokens: 25 },
                ..ModelBehaviour::echo("generated")
            },
        ])
        .await;

    // Echo: the answer is the last user message, finished normally.
    let question = "What is the capital of France? Answer in one word.";
    let response = chat(&subject, &ask("echo", question)).await;
    assert_eq!(response.text(), question);
    assert_eq!(response.finish_reason(), Some(&FinishReason::Stop));
    assert_eq!(response.model, "echo");
    reported_usage(&response, "echo");

    let Some((server, _)) = &subject.mock else {
        return;
    };

    // Fixed: the same text whatever the question.
    for question in ["one", "two"] {
        let response = chat(&subject, &ask("fixed", question)).await;
        assert_eq!(
            response.text(),
            "The answer is 42.",
            "fixed, asked {question:?}"
        );
    }

    // Script: the answers in turn, starting over after the last.
    let mut answers = Vec::new();
    for turn in 0..4 {
        answers.push(
            chat(&subject, &ask("script", &format!("turn {turn}")))
                .await
                .text(),
        );
    }
    assert_eq!(answers, ["first", "second", "third", "first"]);

    // Generated: exactly N filler tokens, counted as N, and the same text again for the same
    // seed and request number (setting the model again restarts its request count).
    let generated = ModelBehaviour {
        output: Output::Generated { tokens: 25 },
        ..ModelBehaviour::echo("generated")
    };
    let first = chat(&subject, &ask("generated", "write")).await;
    assert_eq!(first.text().split(' ').count(), 25, "{:?}", first.text());
    assert_eq!(reported_usage(&first, "generated").completion_tokens, 25);
    server.set_model(generated);
    let again = chat(&subject, &ask("generated", "write")).await;
    assert_eq!(again.text(), first.text(), "same seed, same request number");
}

pub(super) async fn streaming(target: Target) {
    let generated = ModelBehaviour {
        output: Output::Generated { tokens: 40 },
        ..ModelBehaviour::echo("generated")
    };
    let subject = target
        .start(vec![
            ModelBehaviour::echo("echo"),
            ModelBehaviour {
                output: Output::Fixed("Streams arrive in pieces, then finish.".to_owned()),
                ..ModelBehaviour::echo("fixed")
            },
            generated.clone(),
        ])
        .await;
    let mut models = vec!["echo"];
    if subject.mock.is_some() {
        models.extend(["fixed", "generated"]);
    }

    for model in models {
        let request = ask(model, "Tell me, in several words, how streaming works.");
        let plain = chat(&subject, &request).await;
        if let Some((server, _)) = &subject.mock
            && model == "generated"
        {
            // The generated text depends on the request number: start the count again so the
            // stream is the same answer as the plain call.
            server.set_model(generated.clone());
        }
        let (streamed, text_deltas) = stream_counted(&subject, &request).await;

        assert_eq!(streamed.text(), plain.text(), "{model}: streamed text");
        // Every answer here has several words: a real stream brings it in several pieces.
        assert!(
            text_deltas > 1,
            "{model}: the answer came in {text_deltas} piece(s)"
        );
        assert_eq!(
            streamed.finish_reason(),
            Some(&FinishReason::Stop),
            "{model}"
        );
        assert!(!streamed.id.is_empty(), "{model}: the stream never started");
        let plain_usage = reported_usage(&plain, model);
        let stream_usage = reported_usage(&streamed, model);
        assert_eq!(
            (stream_usage.prompt_tokens, stream_usage.completion_tokens),
            (plain_usage.prompt_tokens, plain_usage.completion_tokens),
            "{model}: streamed usage differs from the plain call's"
        );
    }
}

pub(super) async fn usage(target: Target) {
    let fixed = FixedUsage {
        prompt_tokens: 123,
        completion_tokens: 45,
    };
    let subject = target
        .start(vec![ModelBehaviour {
            output: Output::Fixed("Counted by the server.".to_owned()),
            usage: Some(fixed),
            ..ModelBehaviour::echo("counted")
        }])
        .await;
    let request = ask("counted", "How many tokens is this?");
    let plain = reported_usage(&chat(&subject, &request).await, "plain");
    let streamed = reported_usage(&stream(&subject, &request).await, "stream");

    if subject.mock.is_some() {
        // The server's counts, carried through untouched.
        for usage in [&plain, &streamed] {
            assert_eq!(
                (
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    usage.total_tokens
                ),
                (123, 45, 168)
            );
        }
    } else {
        // Echo counts its own: something for the prompt and the answer, the same both ways.
        assert!(
            plain.prompt_tokens > 0 && plain.completion_tokens > 0,
            "{plain:?}"
        );
        assert_eq!(
            (streamed.prompt_tokens, streamed.completion_tokens),
            (plain.prompt_tokens, plain.completion_tokens)
        );
    }
}

pub(super) async fn multi_turn(target: Target) {
    let subject = target.start(vec![ModelBehaviour::echo("chat-model")]).await;
    let messages = vec![
        Message::system("You are terse."),
        Message::user("What is two plus two?"),
        Message::assistant("Four."),
        Message::user("And times three?"),
    ];
    let request = ChatRequest::new("chat-model", messages.clone());

    let plain = chat(&subject, &request).await;
    let streamed = stream(&subject, &request).await;
    for (mode, response) in [("plain", &plain), ("stream", &streamed)] {
        assert_eq!(
            response.text(),
            "And times three?",
            "{mode}: the last user message"
        );
    }

    let Some((server, wire)) = &subject.mock else {
        return;
    };
    // Every message reached the server, the system prompt included (Anthropic lifts it out
    // of the messages): the simulator counts a token per four characters of all of them.
    let chars: usize = messages.iter().map(|m| m.text().chars().count()).sum();
    let expected_prompt = u32::try_from(chars.div_ceil(4)).unwrap();
    assert_eq!(
        reported_usage(&plain, "plain").prompt_tokens,
        expected_prompt
    );

    let log = server.requests();
    assert_eq!(log.len(), 2, "{log:#?}");
    for (entry, (number, stream)) in log.iter().zip([(1, false), (2, true)]) {
        assert_eq!(entry.format, wire.format());
        assert_eq!(entry.path, wire.chat_path());
        assert_eq!(entry.model, "chat-model");
        assert_eq!(entry.stream, stream, "request {number}");
        assert_eq!(entry.request_number, number);
        assert_eq!(entry.status, Some(200));
        assert_eq!(entry.fault, None);
    }
}
