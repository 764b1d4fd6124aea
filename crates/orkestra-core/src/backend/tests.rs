use std::error::Error as _;
use std::io;

use super::*;

#[test]
fn display_is_one_line_and_does_not_repeat_the_source() {
    let error = Error::from(io::Error::new(io::ErrorKind::ConnectionReset, "peer reset"))
        .with_model("ollama/llama3.1:8b");
    assert_eq!(
        error.to_string(),
        "network: peer reset [model ollama/llama3.1:8b]"
    );
    assert_eq!(error.source().unwrap().to_string(), "peer reset");
    assert_eq!(error.class().category, ErrorCategory::Network);
}

/// Records the model of every request it is given, and how each arrived.
#[derive(Default)]
struct Recorder {
    seen: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl ChatBackend for Recorder {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.seen.lock().unwrap().push(request.model.clone());
        Err(Error::new(ErrorCategory::NotFound, "recorded"))
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.seen
            .lock()
            .unwrap()
            .push(format!("stream {}", request.model));
        Err(Error::new(ErrorCategory::NotFound, "recorded"))
    }
}

#[tokio::test]
async fn the_default_chat_as_sends_the_request_under_the_given_name() {
    let backend = Recorder::default();
    let request = ChatRequest::new("openai/gpt-4o-mini", vec![]);
    let _ = backend.chat_as("gpt-4o-mini", &request).await;
    let _ = backend.stream_as("gpt-4o-mini", &request).await;
    let _ = backend.chat_as("openai/gpt-4o-mini", &request).await;
    assert_eq!(
        *backend.seen.lock().unwrap(),
        ["gpt-4o-mini", "stream gpt-4o-mini", "openai/gpt-4o-mini"]
    );
    assert_eq!(request.model, "openai/gpt-4o-mini");
}

#[tokio::test]
async fn as_model_answers_every_request_as_its_model() {
    let backend = Recorder::default();
    let upstream = AsModel::new(&backend, "llama3.1:8b");
    let request = ChatRequest::new("ollama/llama3.1:8b", vec![]);
    let _ = upstream.chat(&request).await;
    let _ = upstream.stream(&request).await;
    // An explicit name still wins, as it would on the backend itself.
    let _ = upstream.chat_as("other", &request).await;
    assert_eq!(
        *backend.seen.lock().unwrap(),
        ["llama3.1:8b", "stream llama3.1:8b", "other"]
    );
    assert_eq!(upstream.model(), "llama3.1:8b");
}
