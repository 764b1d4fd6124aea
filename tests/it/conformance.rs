//! The conformance battery: every provider client runs the same scenarios against the simulator
//! (plain chat, streaming, usage, multi-turn) and the same fault table, each fault mapped to the
//! `ErrorClass` a resilience policy acts on. The echo backend runs the non-fault scenarios
//! through the same assertions, without the simulator.
//!
//! Adding a wire format is one line in the [`conformance!`] invocation at the bottom (plus its
//! arm in [`Target`]); adding a fault is one row in [`faults::table`].

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use orkestra_core::{
    ChatBackend, ChatRequest, ChatResponse, Error, ErrorCategory, Message, StreamAccumulator,
    StreamEvent,
};
use orkestra_mock::{MockConfig, MockServer, ModelBehaviour, WireFormat};
use orkestra_providers::{
    AnthropicClient, AnthropicConfig, EchoBackend, HttpConfig, OllamaClient, OllamaConfig,
    OpenAiClient, OpenAiConfig, Secret,
};

mod faults;
mod scenarios;

/// Every random choice of the simulator derives from this, so a failure replays exactly.
const SEED: u64 = 0x0C0F_FEE5;

/// Short timeouts, so a fault that makes the client wait costs under a second, yet long enough
/// that a healthy loopback call on a busy two-core machine never hits them.
fn http_config() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(1),
        first_byte_timeout: FIRST_BYTE_TIMEOUT,
        idle_timeout: IDLE_TIMEOUT,
        total_timeout: Duration::from_secs(4),
        ..HttpConfig::default()
    }
}

/// The clients' first-byte timeout in this battery.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_millis(800);
/// The clients' idle timeout in this battery.
const IDLE_TIMEOUT: Duration = Duration::from_millis(400);

/// A wire format the simulator speaks, with the client that speaks it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    OpenAi,
    Anthropic,
    Ollama,
}

impl Wire {
    /// The simulator's name for this format, as its request log records it.
    fn format(self) -> WireFormat {
        match self {
            Self::OpenAi => WireFormat::OpenAi,
            Self::Anthropic => WireFormat::Anthropic,
            Self::Ollama => WireFormat::Ollama,
        }
    }

    /// The chat path the client must call.
    fn chat_path(self) -> &'static str {
        match self {
            Self::OpenAi => "/v1/chat/completions",
            Self::Anthropic => "/v1/messages",
            Self::Ollama => "/api/chat",
        }
    }

    /// This format's client, pointed at `server`.
    fn client(self, server: &MockServer) -> Arc<dyn ChatBackend> {
        let base_url = server.base_url();
        match self {
            Self::OpenAi => {
                let config = OpenAiConfig {
                    http: http_config(),
                    ..OpenAiConfig::local("mock-openai", format!("{base_url}/v1"))
                };
                // A key, so the battery also exercises the authenticated path.
                Arc::new(
                    OpenAiClient::with_key(config, Some(Secret::new("sk-conformance"))).unwrap(),
                )
            }
            Self::Anthropic => {
                let config = AnthropicConfig {
                    name: "mock-anthropic".to_owned(),
                    base_url,
                    http: http_config(),
                    ..AnthropicConfig::default()
                };
                Arc::new(
                    AnthropicClient::with_key(config, Secret::new("sk-ant-conformance")).unwrap(),
                )
            }
            Self::Ollama => Arc::new(
                OllamaClient::new(OllamaConfig {
                    name: "mock-ollama".to_owned(),
                    base_url,
                    http: http_config(),
                    ..OllamaConfig::default()
                })
                .unwrap(),
            ),
        }
    }
}

/// What a scenario runs against: a wire client and the simulator, or the offline echo backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Wire(Wire),
    Echo,
}

/// A target set up for one test: its backend and, for a wire, the simulator behind it.
pub(crate) struct Subject {
    pub(crate) backend: Arc<dyn ChatBackend>,
    /// The simulator and the format spoken to it; `None` for the echo backend.
    pub(crate) mock: Option<(MockServer, Wire)>,
}

impl Target {
    /// Starts what this target needs: a simulator serving `models` and a client for it, or the
    /// echo backend (which ignores `models`: it always echoes).
    async fn start(self, models: Vec<ModelBehaviour>) -> Subject {
        match self {
            Self::Wire(wire) => {
                let server = MockServer::start(MockConfig {
                    seed: SEED,
                    models,
                    default_model: None,
                })
                .await
                .unwrap();
                Subject {
                    backend: wire.client(&server),
                    mock: Some((server, wire)),
                }
            }
            Self::Echo => Subject {
                backend: Arc::new(EchoBackend::new()),
                mock: None,
            },
        }
    }
}

/// How a streamed call ended.
#[derive(Debug)]
pub(crate) enum Streamed {
    /// Every choice finished: the accumulated answer, and how many events carried text.
    Complete {
        response: ChatResponse,
        text_deltas: usize,
    },
    /// An error, from `stream` itself or as an item of the stream.
    Failed(Error),
    /// The stream ended cleanly without a finish: a truncated success, which a client must
    /// never produce. Carries the text received.
    Truncated(String),
}

/// Streams `request` and folds the events with the core accumulator.
pub(crate) async fn stream_chat(backend: &dyn ChatBackend, request: &ChatRequest) -> Streamed {
    let mut stream = match backend.stream(request).await {
        Ok(stream) => stream,
        Err(error) => return Streamed::Failed(error),
    };
    let mut accumulator = StreamAccumulator::default();
    let mut text_deltas = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => {
                if matches!(&event, StreamEvent::Delta(delta) if delta.content.as_deref().is_some_and(|text| !text.is_empty()))
                {
                    text_deltas += 1;
                }
                accumulator.push(event);
            }
            Err(error) => return Streamed::Failed(error),
        }
    }
    let text = accumulator.text().to_owned();
    match accumulator.finish() {
        Some(response) => Streamed::Complete {
            response,
            text_deltas,
        },
        None => Streamed::Truncated(text),
    }
}

/// Generates, for each target, one module of tests running the shared scenarios; `faults`
/// after a wire target adds the fault table for it.
macro_rules! conformance {
    ($($module:ident: $target:expr $(, $faults:ident)?;)+) => {$(
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn plain_chat() {
                scenarios::plain_chat($target).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn streaming() {
                scenarios::streaming($target).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn usage() {
                scenarios::usage($target).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multi_turn() {
                scenarios::multi_turn($target).await;
            }

            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $faults() {
                    faults::battery($target).await;
                }
            )?
        }
    )+};
}

conformance! {
    openai: Target::Wire(Wire::OpenAi), faults;
    anthropic: Target::Wire(Wire::Anthropic), faults;
    ollama: Target::Wire(Wire::Ollama), faults;
    echo: Target::Echo;
}

/// Model discovery, for the formats that have it: the client lists exactly the simulator's
/// models.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_lists_the_simulators_models() {
    let models = vec![
        ModelBehaviour::echo("llama3.2:1b"),
        ModelBehaviour::echo("gpt-4o-mini"),
        ModelBehaviour::echo("qwen2.5:0.5b"),
    ];
    let mut expected: Vec<String> = models.iter().map(|model| model.name.clone()).collect();
    expected.sort();
    let server = MockServer::start(MockConfig {
        seed: SEED,
        models,
        default_model: None,
    })
    .await
    .unwrap();

    let openai = OpenAiClient::new(OpenAiConfig {
        http: http_config(),
        ..OpenAiConfig::local("mock-openai", format!("{}/v1", server.base_url()))
    })
    .unwrap();
    let ollama = OllamaClient::new(OllamaConfig {
        name: "mock-ollama".to_owned(),
        base_url: server.base_url(),
        http: http_config(),
        ..OllamaConfig::default()
    })
    .unwrap();
    let (openai, ollama) = tokio::join!(openai.list_models(), ollama.list_models());
    for (format, listed) in [("openai", openai), ("ollama", ollama)] {
        let mut listed = listed.unwrap_or_else(|error| panic!("{format}: {error}"));
        listed.sort();
        assert_eq!(listed, expected, "{format} /models");
    }
}

/// A server that is not there: every client reports a retryable network error (the one
/// failure the simulator cannot stage, since it is the absence of a server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_a_network_error_in_every_format() {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let clients: Vec<(Wire, Arc<dyn ChatBackend>)> = [Wire::OpenAi, Wire::Anthropic, Wire::Ollama]
        .into_iter()
        .map(|wire| (wire, wire.client(&server)))
        .collect();
    // Nothing listens on the port once the server is gone.
    server.shutdown().await;
    let request = ChatRequest::new("gone", vec![Message::user("Anyone there?")]);
    for (wire, client) in clients {
        let plain = client.chat(&request).await.unwrap_err();
        let streamed = match stream_chat(client.as_ref(), &request).await {
            Streamed::Failed(error) => error,
            other => panic!("{wire:?}: a stream from no server: {other:?}"),
        };
        for (mode, error) in [("plain", plain), ("stream", streamed)] {
            assert_eq!(
                error.class.category,
                ErrorCategory::Network,
                "{wire:?} {mode}: {error}"
            );
            assert!(error.class.retryable, "{wire:?} {mode}: {error}");
        }
    }
}
