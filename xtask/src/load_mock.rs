//! `cargo xtask load-mock`: the simulator's throughput under wrk, against a bare hyper baseline.
//!
//! Builds `orkestra-mock`'s `serve` example in release, then for the simulator (an echo model,
//! zero latency) and for the baseline (`--baseline`: the same hyper settings answering a fixed,
//! pre-serialized completion without parsing) starts it on a free loopback port and runs wrk
//! with a Lua script that POSTs a ~1 KB OpenAI chat body. Prints requests/s and latency
//! percentiles for both and fails if the simulator is below the bar.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, bail};
use xshell::{Shell, cmd};

#[cfg(test)]
mod tests;

/// The requests per second the simulator must sustain (issue 4's performance bar).
const BAR: f64 = 20_000.0;

/// wrk threads: one keeps wrk to a single core of the two, leaving the other to the server.
const WRK_THREADS: &str = "1";

/// What one wrk run measured.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measured {
    pub(crate) requests_per_second: f64,
    /// Latency percentiles (50, 75, 90, 99) in microseconds.
    pub(crate) percentiles_us: Vec<(u8, f64)>,
    /// Responses that were not 2xx or 3xx.
    pub(crate) non_2xx: u64,
    /// wrk's socket error line, if any.
    pub(crate) socket_errors: Option<String>,
}

/// Runs the load test.
pub(crate) fn run(root: &Path, seconds: u32, connections: u32) -> anyhow::Result<()> {
    match Command::new("wrk").arg("--version").output() {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
            "wrk is not installed: install it with `apt-get install -y wrk` (Debian, Ubuntu) or `brew install wrk` (macOS)"
        ),
        Err(error) => return Err(error).context("cannot run wrk"),
    }
    let sh = Shell::new()?;
    sh.change_dir(root);
    cmd!(
        sh,
        "cargo build --release --locked -p orkestra-mock --example serve"
    )
    .run()?;
    let serve = root.join("target/release/examples/serve");
    let dir = root.join("target/load-mock");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let script = dir.join("post.lua");
    std::fs::write(&script, lua_script())
        .with_context(|| format!("cannot write {}", script.display()))?;

    let mock = measure(&sh, &serve, &[], &script, seconds, connections)?;
    let baseline = measure(&sh, &serve, &["--baseline"], &script, seconds, connections)?;
    println!();
    println!(
        "load-mock: {seconds} s, {connections} connections, wrk -t{WRK_THREADS}, POST /v1/chat/completions (~1 KB body, stream false)"
    );
    println!(
        "{:<10} {:>12} {:>10} {:>10} {:>10} {:>10}",
        "server", "requests/s", "p50", "p75", "p90", "p99"
    );
    for (name, measured) in [("mock", &mock), ("baseline", &baseline)] {
        let percentile = |wanted: u8| {
            measured
                .percentiles_us
                .iter()
                .find(|(at, _)| *at == wanted)
                .map_or_else(|| "-".to_owned(), |(_, micros)| format!("{micros:.0} us"))
        };
        println!(
            "{name:<10} {:>12.0} {:>10} {:>10} {:>10} {:>10}",
            measured.requests_per_second,
            percentile(50),
            percentile(75),
            percentile(90),
            percentile(99)
        );
        if let Some(errors) = &measured.socket_errors {
            println!("{name:<10} {errors}");
        }
    }
    println!(
        "mock / baseline: {:.2}",
        mock.requests_per_second / baseline.requests_per_second
    );
    if mock.non_2xx > 0 {
        bail!(
            "the simulator answered {} requests with a non-2xx status",
            mock.non_2xx
        );
    }
    if mock.requests_per_second < BAR {
        bail!(
            "the simulator sustained {:.0} requests/s, below the bar of {BAR:.0}",
            mock.requests_per_second
        );
    }
    println!("bar of {BAR:.0} requests/s: met");
    Ok(())
}

/// Kills the server when the measurement ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn measure(
    sh: &Shell,
    serve: &Path,
    args: &[&str],
    script: &Path,
    seconds: u32,
    connections: u32,
) -> anyhow::Result<Measured> {
    let mut child = Command::new(serve)
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", serve.display()))?;
    let stdout = child
        .stdout
        .take()
        .context("the server's stdout is not captured")?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("cannot read the server's address")?;
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .with_context(|| format!("unexpected first line from the server: {line:?}"))?;
    let url = format!("{base}/v1/chat/completions");
    let duration = format!("{seconds}s");
    let connections = connections.to_string();
    let output = cmd!(
        sh,
        "wrk -t{WRK_THREADS} -c{connections} -d{duration} --latency -s {script} {url}"
    )
    .read()?;
    drop(server);
    println!("{output}");
    parse_wrk(&output)
}

/// Reads requests/s, the latency distribution, non-2xx responses and socket errors from wrk's
/// report.
pub(crate) fn parse_wrk(output: &str) -> anyhow::Result<Measured> {
    let mut requests_per_second = None;
    let mut percentiles_us = Vec::new();
    let mut non_2xx = 0;
    let mut socket_errors = None;
    for line in output.lines().map(str::trim) {
        if let Some(rate) = line.strip_prefix("Requests/sec:") {
            requests_per_second = Some(
                rate.trim()
                    .parse::<f64>()
                    .with_context(|| format!("cannot read requests/s from {line:?}"))?,
            );
        } else if let Some(count) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = count.trim().parse().unwrap_or(u64::MAX);
        } else if line.starts_with("Socket errors:") {
            socket_errors = Some(line.to_owned());
        } else if let Some((at, value)) = line.split_once('%')
            && let Ok(at) = at.parse::<u8>()
        {
            percentiles_us.push((
                at,
                micros(value.trim())
                    .with_context(|| format!("cannot read the latency in {line:?}"))?,
            ));
        }
    }
    Ok(Measured {
        requests_per_second: requests_per_second.context("wrk printed no Requests/sec line")?,
        percentiles_us,
        non_2xx,
        socket_errors,
    })
}

/// A wrk duration (`812.00us`, `1.25ms`, `2.00s`, `1.00m`) in microseconds.
fn micros(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1_000.0,
        "s" => 1_000_000.0,
        "m" => 60_000_000.0,
        _ => return None,
    };
    Some(number * scale)
}

/// A wrk script that POSTs a ~1 KB OpenAI chat body without streaming.
fn lua_script() -> String {
    let prompt =
        "The quick brown fox jumps over the lazy dog while the scheduler routes requests. "
            .repeat(13);
    let body = format!(
        r#"{{"model":"gpt-4o-mini","messages":[{{"role":"system","content":"You are a helpful assistant."}},{{"role":"user","content":"{}"}}],"stream":false,"temperature":0.2,"max_tokens":512}}"#,
        &prompt[..1000]
    );
    format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = '{body}'\n"
    )
}
