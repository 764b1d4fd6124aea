//! Serves the simulator on loopback until killed: the target of `cargo xtask load-mock`.
//!
//! ```sh
//! cargo run --release -p orkestra-mock --example serve -- --port 8080 --config mock.toml
//! cargo run --release -p orkestra-mock --example serve -- --baseline
//! ```
//!
//! - `--port N`: the port on 127.0.0.1 (default 0, a free one); the first line printed is
//!   `listening on http://127.0.0.1:PORT`.
//! - `--config FILE`: a TOML configuration, or JSON when the name ends in `.json`; without it
//!   every model name is answered by an echo model with no latency.
//! - `--baseline`: instead of the simulator, a bare hyper server on the same settings that
//!   reads each request body and answers a fixed, pre-serialized OpenAI chat completion without
//!   parsing anything: the floor the simulator is measured against.

#![allow(
    clippy::print_stdout,
    reason = "an example program reports its address on standard output"
)]

use std::convert::Infallible;
use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use orkestra_mock::{MockConfig, MockServer, ModelBehaviour};
use tokio::net::TcpListener;

struct Args {
    port: u16,
    config: Option<String>,
    baseline: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        config: None,
        baseline: false,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--port" => {
                let value = iter.next().ok_or("--port needs a number")?;
                args.port = value
                    .parse()
                    .map_err(|_| format!("--port: `{value}` is not a port number"))?;
            }
            "--config" => args.config = Some(iter.next().ok_or("--config needs a file")?),
            "--baseline" => args.baseline = true,
            other => {
                return Err(format!(
                    "unknown argument `{other}` (expected --port N, --config FILE, --baseline)"
                ));
            }
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    if args.baseline {
        return serve_baseline(listener).await;
    }
    let config = match &args.config {
        Some(path) => MockConfig::from_file(path)?,
        None => MockConfig {
            default_model: Some(ModelBehaviour::echo("")),
            ..MockConfig::default()
        },
    };
    MockServer::run(listener, config, std::future::pending()).await?;
    Ok(())
}

/// A whole, fixed body.
struct Fixed(Option<Bytes>);

impl Body for Fixed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().0.take().map(|bytes| Ok(Frame::data(bytes))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |bytes| bytes.len() as u64))
    }
}

/// An OpenAI chat completion whose content is as long as the load test's prompt (about 1 KB),
/// so its size matches the simulator's echo.
fn fixed_answer() -> Bytes {
    let content = "lorem ipsum dolor sit amet ".repeat(38);
    let answer = serde_json::json!({
        "id": "chatcmpl-baseline",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_baseline",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 260, "completion_tokens": 257, "total_tokens": 517},
    });
    Bytes::from(answer.to_string())
}

async fn serve_baseline(listener: TcpListener) -> Result<(), Box<dyn std::error::Error>> {
    let answer = fixed_answer();
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let answer = answer.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let answer = answer.clone();
                async move {
                    // Read the body as the simulator does, but do not parse it.
                    let mut body = request.into_body();
                    while let Some(frame) =
                        std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
                    {
                        if frame.is_err() {
                            break;
                        }
                    }
                    let mut response = Response::new(Fixed(Some(answer)));
                    response.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
