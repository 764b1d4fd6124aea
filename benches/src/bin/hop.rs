//! `hop`: the least an HTTP proxy can do, as a yardstick for the gateway's added latency.
//!
//! `hop --upstream http://IP:PORT [--port P]` listens on `127.0.0.1:P` (0, the default,
//! picks a free port), prints `listening on http://127.0.0.1:PORT`, and forwards every
//! request to the upstream with its method, path, headers and body unchanged, over one
//! keep-alive upstream connection per client connection. Bodies are read whole, as a gateway
//! that reads JSON must; nothing is parsed, logged or recorded.
//!
//! On a machine where waking a thread is slow (a virtual one, with idle vCPUs halted), one more
//! HTTP hop costs tens of microseconds before any work is done: `cargo xtask load-gateway`
//! measures this hop beside the gateway, so the report tells the machine's share from ours.

#![allow(
    clippy::print_stdout,
    reason = "the server says where it listens on standard output"
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HOST, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

const USAGE: &str = "Usage: hop --upstream http://IP:PORT [--port P]

Forwards every HTTP request to the upstream unchanged (see the `orkestra-benches` docs).
  --upstream http://IP:PORT  where to forward (required)
  --port P                   the port to listen on at 127.0.0.1 (default 0: a free one)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (upstream, port) = match arguments(args.into_iter()) {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("error: {error:#}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(upstream, port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--upstream` (an `http://IP:PORT` address) and `--port`.
fn arguments(mut args: impl Iterator<Item = String>) -> anyhow::Result<(SocketAddr, u16)> {
    let mut upstream = None;
    let mut port = 0;
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--upstream" => {
                let value = value()?;
                let address = value
                    .strip_prefix("http://")
                    .with_context(|| format!("--upstream {value:?}: expected http://IP:PORT"))?
                    .trim_end_matches('/');
                upstream = Some(address.parse().with_context(|| {
                    format!("--upstream {value:?}: expected an IP address and a port")
                })?);
            }
            "--port" => {
                let value = value()?;
                port = value
                    .parse()
                    .with_context(|| format!("--port {value:?}: expected a port number"))?;
            }
            _ => bail!("unknown flag {flag:?}"),
        }
    }
    Ok((upstream.context("--upstream is required")?, port))
}

async fn serve(upstream: SocketAddr, port: u16) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    let host = HeaderValue::from_str(&upstream.to_string())?;
    loop {
        let (client, _) = listener.accept().await?;
        let host = host.clone();
        tokio::spawn(async move {
            if let Err(error) = connection(client, upstream, host).await {
                eprintln!("hop: connection ended: {error:#}");
            }
        });
    }
}

/// Serves one client connection over one upstream connection of its own.
async fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    host: HeaderValue,
) -> anyhow::Result<()> {
    client.set_nodelay(true)?;
    let stream = TcpStream::connect(upstream)
        .await
        .with_context(|| format!("cannot connect to {upstream}"))?;
    stream.set_nodelay(true)?;
    let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(driver);
    // HTTP/1 answers one request at a time per connection: the lock is never contended.
    let sender = Arc::new(Mutex::new(sender));
    let service = hyper::service::service_fn(move |request| {
        let sender = Arc::clone(&sender);
        let host = host.clone();
        async move { Ok::<_, Infallible>(forward(&sender, request, host).await) }
    });
    hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(client), service)
        .await?;
    Ok(())
}

async fn forward(
    sender: &Mutex<SendRequest<Full<Bytes>>>,
    request: Request<Incoming>,
    host: HeaderValue,
) -> Response<Full<Bytes>> {
    let answer = async {
        let (mut parts, body) = request.into_parts();
        let body = body.collect().await?.to_bytes();
        parts.headers.insert(HOST, host);
        let mut sender = sender.lock().await;
        sender.ready().await?;
        let response = sender
            .send_request(Request::from_parts(parts, Full::new(body)))
            .await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        anyhow::Ok(Response::from_parts(parts, Full::new(body)))
    };
    answer.await.unwrap_or_else(|error| {
        let mut response = Response::new(Full::new(Bytes::from(format!("hop: {error:#}\n"))));
        *response.status_mut() = StatusCode::BAD_GATEWAY;
        response
    })
}
