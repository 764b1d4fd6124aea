//! `cargo xtask load-gateway`: the gateway's added latency, throughput, memory and burst time,
//! against calling the simulator directly and against LiteLLM's proxy, in one run.
//!
//! Builds `loadgen` and `hop` (package `orkestra-benches`), the simulator (`orkestra-mock`'s
//! `serve` example) and the gateway (`orkestra` from `orkestra-cli`) in release, starts the
//! simulator with a zero-latency echo model `m` and a model `slow` answering after 200 ms, the
//! gateway in front of it (`sim/m`, `sim/slow`), `hop` (a bare HTTP proxy) and LiteLLM's proxy
//! in front of the same simulator. Then:
//!
//! 1. concurrency 1, closed loop: short runs directly, through `hop` and through the gateway,
//!    in turn, then LiteLLM; the gateway's added latency is the median of each round's
//!    difference (see [`Paired`]), LiteLLM's is its percentile minus the direct runs' median;
//!    `hop`'s shows how much of the gateway's is the machine's cost of one more HTTP hop;
//! 2. throughput: a closed loop on 64 connections through the gateway (the most it answers), an
//!    open loop at 10,000 requests/s directly and through the gateway, alternating as above
//!    (added p99), and a short closed loop on 8 connections through LiteLLM, which does not
//!    sustain 10,000 requests/s;
//! 3. the gateway's resident memory after the throughput phase;
//! 4. a burst of 50 requests at once to the 200 ms model: direct, gateway, LiteLLM.
//!
//! With `--against PATH`, PATH (another `orkestra` build, or a script starting one with other
//! settings) runs beside this build's gateway, in front of the same simulator with the same
//! configuration: its c=1 runs follow the gateway's in each round, the closed loop on 64
//! connections alternates between the two, [`MAX_ROUNDS`] rounds, and the report compares them
//! figure by figure, the gateway's own CPU per request included.
//!
//! The gateway's bars: its added p50 at concurrency 1 above `hop`'s at most 25 us (the median
//! of the rounds' differences); its own CPU per request at concurrency 1 and on 64 connections
//! at most two thirds of the `--against` build's (checked only when one runs beside it); the
//! open loop at 10,000/s achieved and its added p99 at most 5 ms in every round; resident
//! memory, the burst's wall time, and no failed request.
//!
//! Prints a markdown table (also written to `target/load-gateway/report.md`) and fails if the
//! gateway misses a bar. Every child process is killed when the run ends, however it ends.
//! Until `orkestra-cli` exists, the gateway is skipped with a warning and only the direct and
//! LiteLLM figures are measured.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use xshell::{Shell, cmd};

#[cfg(test)]
mod tests;

/// The gateway's added p50 at concurrency 1 above a bare HTTP hop's (`hop`), the median of
/// the rounds' differences: at most this many microseconds. The hop alone takes 57 to 112 us
/// on these machines, so an absolute bar measured the machine more than the gateway.
const BAR_ABOVE_HOP_P50_US: f64 = 25.0;
/// The gateway's own CPU time per request, as a share of the previous build's measured in the
/// same rounds (`--against`), at concurrency 1 and on [`CONNECTIONS`] connections: at least a
/// third below.
const BAR_CPU_SHARE: f64 = 2.0 / 3.0;
/// The open-loop rate the gateway must sustain.
const BAR_RATE: f64 = 10_000.0;
/// The share of [`BAR_RATE`] the open loop must achieve: answers are counted until the last one,
/// so a server that keeps up achieves a hair under the schedule.
const BAR_RATE_SHARE: f64 = 0.99;
/// Added p99 at [`BAR_RATE`].
const BAR_ADDED_P99_AT_RATE_US: f64 = 5_000.0;
/// Resident memory after the throughput phase, in kB (50 MB).
const BAR_RSS_KB: u64 = 50 * 1024;
/// Wall time of 50 concurrent calls to a model answering in 200 ms.
const BAR_BURST_US: f64 = 250_000.0;
/// How much lower LiteLLM's added latency should be than ours: a goal, reported, not a bar.
const GOAL_RATIO: f64 = 10.0;

/// Rounds of direct, `hop` and gateway runs at concurrency 1.
const C1_ROUNDS: u32 = 5;
/// Rounds of direct and gateway runs of the open loop.
const OPEN_ROUNDS: u32 = 3;
/// Rounds of the closed loop on [`CONNECTIONS`] connections when another build runs beside
/// the gateway (`--against`): this build, then the other, in turn.
const MAX_ROUNDS: u32 = 3;

/// Concurrent requests of the burst phase.
const BURST: u32 = 50;
/// Connections of the gateway's closed-loop throughput run and of the open loops.
const CONNECTIONS: u32 = 64;
/// Connections of LiteLLM's throughput run.
const LITELLM_CONNECTIONS: u32 = 8;
/// LiteLLM's phases last at most this many seconds: it is slow enough that a few thousand
/// requests give stable percentiles, and the whole run should stay within a few minutes.
const LITELLM_SECONDS: u32 = 5;
/// LiteLLM's master key; the proxy wants one of 32 characters or more.
const LITELLM_KEY: &str = "sk-orkestra-load-gateway-0123456789abcdef";

/// What one `loadgen` run measured, read from its JSON summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Run {
    /// Answered requests per second.
    pub(crate) rate: f64,
    /// Answered requests.
    pub(crate) requests: u64,
    /// Requests without a complete answer.
    pub(crate) errors: u64,
    /// Answers outside 200-299.
    pub(crate) non_2xx: u64,
    /// Latency percentiles in microseconds.
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) p999: f64,
    pub(crate) max: f64,
    /// Wall time of each burst in microseconds (burst mode).
    pub(crate) bursts: Vec<f64>,
    /// The first error loadgen saw, if any.
    pub(crate) first_error: Option<String>,
    /// The server's own CPU time (user + system) per request, in microseconds, when its
    /// process was watched (see [`cpu_seconds`]).
    pub(crate) cpu_per_request: Option<f64>,
}

impl Run {
    /// The slowest burst; 0 without bursts.
    fn worst_burst(&self) -> f64 {
        self.bursts.iter().copied().fold(0.0, f64::max)
    }
}

/// Reads `loadgen`'s JSON summary.
pub(crate) fn parse_run(json: &str) -> anyhow::Result<Run> {
    let value: serde_json::Value =
        serde_json::from_str(json.trim()).context("loadgen's summary is not JSON")?;
    let number = |path: &[&str]| {
        path.iter()
            .try_fold(&value, |value, key| value.get(key))
            .and_then(serde_json::Value::as_f64)
            .with_context(|| format!("loadgen's summary has no number at {}", path.join(".")))
    };
    let count = |key: &str| {
        value
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .with_context(|| format!("loadgen's summary has no count `{key}`"))
    };
    Ok(Run {
        rate: number(&["rate"])?,
        requests: count("requests")?,
        errors: count("errors")?,
        non_2xx: count("non_2xx")?,
        p50: number(&["latency_us", "p50"])?,
        p90: number(&["latency_us", "p90"])?,
        p99: number(&["latency_us", "p99"])?,
        p999: number(&["latency_us", "p99.9"])?,
        max: number(&["latency_us", "max"])?,
        bursts: value
            .get("burst_wall_us")
            .and_then(serde_json::Value::as_array)
            .map(|walls| walls.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default(),
        first_error: value
            .get("first_error")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        cpu_per_request: None,
    })
}

/// Runs of the simulator directly and through the gateway, in rounds: direct, (hop,) gateway,
/// direct, (hop,) gateway, ...
///
/// This machine's speed drifts from minute to minute (the simulator's own c=1 p50 was seen
/// anywhere between 70 and 120 us), by tens of microseconds on a bar of 100. One long run of
/// each, back to back, puts that drift into the difference; short runs side by side put it
/// into both sides of each round alike, and the median of the rounds' differences leaves out a
/// round that a passing hiccup hit.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Paired {
    /// The direct runs, in order.
    pub(crate) direct: Vec<Run>,
    /// The gateway's runs, each in the round of the direct run of the same index; empty when
    /// the gateway was not run.
    pub(crate) gateway: Vec<Run>,
    /// `hop`'s runs, each between the direct and the gateway run of its round; empty when it
    /// was not run.
    pub(crate) hop: Vec<Run>,
    /// The `--against` build's runs, each right after the gateway run of its round; empty when
    /// there is none.
    pub(crate) against: Vec<Run>,
}

impl Paired {
    /// The direct runs' figures: each the median over the runs.
    pub(crate) fn direct(&self) -> Run {
        median_run(&self.direct)
    }

    /// The gateway runs' figures, each the median over the runs; `None` when not run.
    pub(crate) fn gateway(&self) -> Option<Run> {
        (!self.gateway.is_empty()).then(|| median_run(&self.gateway))
    }

    /// Each round's difference in `pick`, gateway minus direct, in order.
    pub(crate) fn differences(&self, pick: Pick) -> Vec<f64> {
        differences(&self.direct, &self.gateway, pick)
    }

    /// The median of the rounds' differences in `pick`; `None` when the gateway was not run.
    pub(crate) fn added(&self, pick: Pick) -> Option<f64> {
        median(self.differences(pick))
    }

    /// `hop`'s added latency in `pick`, as [`Paired::added`] gives the gateway's.
    pub(crate) fn hop_added(&self, pick: Pick) -> Option<f64> {
        median(differences(&self.direct, &self.hop, pick))
    }

    /// The `--against` build's added latency in `pick`, as [`Paired::added`] gives the
    /// gateway's.
    pub(crate) fn against_added(&self, pick: Pick) -> Option<f64> {
        median(differences(&self.direct, &self.against, pick))
    }

    /// The median of the rounds' differences in `pick`, gateway minus `hop`: the gateway's cost
    /// beyond one bare HTTP hop.
    pub(crate) fn above_hop(&self, pick: Pick) -> Option<f64> {
        median(differences(&self.hop, &self.gateway, pick))
    }
}

/// `pick(after) - pick(before)`, round by round.
fn differences(before: &[Run], after: &[Run], pick: Pick) -> Vec<f64> {
    before
        .iter()
        .zip(after)
        .map(|(before, after)| pick(after) - pick(before))
        .collect()
}

/// The middle value (the mean of the two middle ones for an even count); `None` when empty.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[middle]),
        _ => Some(f64::midpoint(values[middle - 1], values[middle])),
    }
}

/// One run standing for `runs`: counts summed, rates and percentiles the median over the runs
/// (a percentile of the merged runs would need their histograms), bursts all kept.
fn median_run(runs: &[Run]) -> Run {
    let of = |pick: Pick| median(runs.iter().map(pick).collect()).unwrap_or_default();
    Run {
        rate: of(|run| run.rate),
        requests: runs.iter().map(|run| run.requests).sum(),
        errors: runs.iter().map(|run| run.errors).sum(),
        non_2xx: runs.iter().map(|run| run.non_2xx).sum(),
        p50: of(|run| run.p50),
        p90: of(|run| run.p90),
        p99: of(|run| run.p99),
        p999: of(|run| run.p999),
        max: of(|run| run.max),
        bursts: runs.iter().flat_map(|run| run.bursts.clone()).collect(),
        first_error: runs.iter().find_map(|run| run.first_error.clone()),
        cpu_per_request: median(runs.iter().filter_map(|run| run.cpu_per_request).collect()),
    }
}

/// Everything one run measured; `None` (or no runs) where a target was not run.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Figures {
    /// Seconds of each measured phase; the paired phases split them among their rounds.
    pub(crate) seconds: u32,
    /// Concurrency 1, closed loop, [`C1_ROUNDS`] rounds.
    pub(crate) c1: Paired,
    pub(crate) c1_litellm: Option<Run>,
    /// Closed loop on [`CONNECTIONS`] connections through the gateway: the median of
    /// [`MAX_ROUNDS`] runs when another build runs beside it, else one run.
    pub(crate) max_gateway: Option<Run>,
    /// Another build of the gateway measured in the same rounds (`--against`).
    pub(crate) against: Option<Comparison>,
    /// Closed loop on [`LITELLM_CONNECTIONS`] connections through LiteLLM.
    pub(crate) max_litellm: Option<Run>,
    /// The open loop at [`BAR_RATE`], [`OPEN_ROUNDS`] rounds.
    pub(crate) open: Paired,
    /// Resident memory after the throughput phase, in kB.
    pub(crate) rss_gateway_kb: Option<u64>,
    /// LiteLLM's resident memory (the proxy and its child processes), in kB.
    pub(crate) rss_litellm_kb: Option<u64>,
    pub(crate) burst_direct: Run,
    pub(crate) burst_gateway: Option<Run>,
    pub(crate) burst_litellm: Option<Run>,
}

/// Another build of the gateway (`--against PATH`), run in the same rounds as this one: its
/// c=1 runs are [`Paired::against`]; the closed loops on [`CONNECTIONS`] connections alternate
/// between the two builds, [`MAX_ROUNDS`] rounds.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Comparison {
    /// What the other build is, as given on the command line.
    pub(crate) label: String,
    /// This build's closed loops, in order.
    pub(crate) max_ours: Vec<Run>,
    /// The other build's, each right after this build's of the same round.
    pub(crate) max_theirs: Vec<Run>,
}

/// The rendered report and the bars the gateway missed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    /// The markdown table and its notes.
    pub(crate) markdown: String,
    /// One line per missed bar; empty when every bar is met (or the gateway was not run).
    pub(crate) missed: Vec<String>,
}

/// Microseconds, in microseconds below 10 ms and milliseconds above.
fn time(micros: f64) -> String {
    if micros.abs() < 10_000.0 {
        format!("{micros:.0} us")
    } else {
        format!("{:.1} ms", micros / 1_000.0)
    }
}

fn rate(rate: f64) -> String {
    // Thousands separators: the figures are read beside the bar's "10,000".
    let whole = format!("{:.0}", rate.max(0.0));
    let mut grouped = String::new();
    for (position, digit) in whole.chars().enumerate() {
        if position > 0 && (whole.len() - position).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{grouped}/s")
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "used as a `fn(f64) -> String` beside `time` and `rate`"
)]
fn megabytes(kb: f64) -> String {
    format!("{:.1} MB", kb / 1024.0)
}

/// A cell: the value shown, or "not run".
fn cell(value: Option<f64>, show: fn(f64) -> String) -> String {
    value.map_or_else(|| "not run".to_owned(), show)
}

/// Which side of its limit a bar wants a figure on.
#[derive(Debug, Clone, Copy)]
enum Limit {
    AtMost(f64),
    AtLeast(f64),
}

/// The report's rows, and the bars missed so far.
#[derive(Debug, Default)]
struct Table {
    rows: Vec<[String; 6]>,
    missed: Vec<String>,
}

impl Table {
    /// A row without a bar.
    fn info(&mut self, figure: String, direct: String, ours: String, theirs: String) {
        self.rows
            .push([figure, direct, ours, theirs, String::new(), String::new()]);
    }

    /// A row whose orkestra figure is checked against a bar; `None` when not run.
    fn bar(
        &mut self,
        figure: String,
        [direct, theirs]: [String; 2],
        ours: Option<f64>,
        limit: Limit,
        show: fn(f64) -> String,
    ) {
        let (wanted, met) = match (limit, ours) {
            (Limit::AtMost(limit), ours) => {
                (format!("<= {}", show(limit)), ours.map(|v| v <= limit))
            }
            (Limit::AtLeast(limit), ours) => {
                (format!(">= {}", show(limit)), ours.map(|v| v >= limit))
            }
        };
        let verdict = match (met, ours) {
            (Some(true), _) => "met".to_owned(),
            (Some(false), Some(ours)) => {
                self.missed
                    .push(format!("{figure}: {} (bar {wanted})", show(ours)));
                "**missed**".to_owned()
            }
            _ => "not checked".to_owned(),
        };
        self.rows
            .push([figure, direct, cell(ours, show), theirs, wanted, verdict]);
    }
}

/// Renders the figures as a markdown table and checks the gateway's bars.
pub(crate) fn report(figures: &Figures) -> Report {
    let mut table = Table::default();
    latency_rows(&mut table, figures);
    cpu_rows(&mut table, figures);
    throughput_rows(&mut table, figures);
    let slowest = |run: Option<&Run>| run.map(Run::worst_burst);
    table.bar(
        format!("{BURST} calls at once to a 200 ms model: slowest wall time"),
        [
            time(figures.burst_direct.worst_burst()),
            cell(slowest(figures.burst_litellm.as_ref()), time),
        ],
        slowest(figures.burst_gateway.as_ref()),
        Limit::AtMost(BAR_BURST_US),
        time,
    );
    let failed = |runs: &[Option<&Run>]| {
        runs.iter()
            .flatten()
            .map(|run| (run.errors + run.non_2xx) as f64)
            .reduce(|a, b| a + b)
    };
    let c1_direct = figures.c1.direct();
    let c1_gateway = figures.c1.gateway();
    let open_direct = figures.open.direct();
    let open_gateway = figures.open.gateway();
    let direct = [
        Some(&c1_direct),
        Some(&open_direct),
        Some(&figures.burst_direct),
    ];
    let ours = [
        c1_gateway.as_ref(),
        figures.max_gateway.as_ref(),
        open_gateway.as_ref(),
        figures.burst_gateway.as_ref(),
    ];
    let theirs = [
        figures.c1_litellm.as_ref(),
        figures.max_litellm.as_ref(),
        figures.burst_litellm.as_ref(),
    ];
    let count = |count: f64| format!("{count:.0}");
    table.bar(
        "failed requests (errors and non-2xx), all phases".to_owned(),
        [cell(failed(&direct), count), cell(failed(&theirs), count)],
        failed(&ours),
        Limit::AtMost(0.0),
        count,
    );
    render(figures, table)
}

/// How to read one figure from a run.
type Pick = fn(&Run) -> f64;

/// A percentile's name and how to read it from a run.
type Picker = (&'static str, Pick);

/// Concurrency 1: latencies, added latencies and LiteLLM's against ours.
fn latency_rows(table: &mut Table, figures: &Figures) {
    let direct = figures.c1.direct();
    let gateway = figures.c1.gateway();
    let litellm = figures.c1_litellm.as_ref();
    let pickers: [Picker; 2] = [("p50", |run| run.p50), ("p99", |run| run.p99)];
    for (name, pick) in pickers {
        table.info(
            format!("c=1 latency {name}"),
            time(pick(&direct)),
            cell(gateway.as_ref().map(pick), time),
            cell(litellm.map(pick), time),
        );
    }
    // LiteLLM runs once, after the rounds: its added latency is against the direct runs' median.
    let theirs = |pick: Pick| litellm.map(|run| pick(run) - pick(&direct));
    for (name, pick) in pickers {
        table.info(
            format!("c=1 added {name}"),
            "-".to_owned(),
            cell(figures.c1.added(pick), time),
            cell(theirs(pick), time),
        );
    }
    table.bar(
        "c=1 added p50 above the bare hop".to_owned(),
        ["-".to_owned(), "-".to_owned()],
        figures.c1.above_hop(|run| run.p50),
        Limit::AtMost(BAR_ABOVE_HOP_P50_US),
        time,
    );
    for (name, pick) in pickers {
        // A ratio means something only for a positive added latency of ours: noise can make a
        // very small one zero or negative.
        let ratio = match (figures.c1.added(pick), theirs(pick)) {
            (Some(ours), Some(theirs)) if ours > 0.0 => Some(theirs / ours),
            _ => None,
        };
        let verdict = match ratio {
            None => "not checked",
            Some(ratio) if ratio >= GOAL_RATIO => "met (goal)",
            Some(_) => "missed (goal)",
        };
        table.rows.push([
            format!("LiteLLM / orkestra, added {name}"),
            "-".to_owned(),
            "1x".to_owned(),
            cell(ratio, |ratio| format!("{ratio:.1}x")),
            format!(">= {GOAL_RATIO:.0}x (goal)"),
            verdict.to_owned(),
        ]);
    }
}

/// The gateway's own CPU per request against the `--against` build's, at concurrency 1 and on
/// [`CONNECTIONS`] connections: "not checked" without another build.
fn cpu_rows(table: &mut Table, figures: &Figures) {
    let cpu = |runs: &[Run]| median(runs.iter().filter_map(|run| run.cpu_per_request).collect());
    let share = |ours: Option<f64>, theirs: Option<f64>| match (ours, theirs) {
        (Some(ours), Some(theirs)) if theirs > 0.0 => Some(ours / theirs),
        _ => None,
    };
    let (c1, max) = figures.against.as_ref().map_or((None, None), |comparison| {
        (
            share(cpu(&figures.c1.gateway), cpu(&figures.c1.against)),
            share(cpu(&comparison.max_ours), cpu(&comparison.max_theirs)),
        )
    });
    let show = |share: f64| format!("{share:.2}x");
    for (connections, share) in [(1, c1), (CONNECTIONS, max)] {
        table.bar(
            format!("CPU per request on {connections} connection(s), this build / `--against`"),
            ["-".to_owned(), "-".to_owned()],
            share,
            Limit::AtMost(BAR_CPU_SHARE),
            show,
        );
    }
}

/// Throughput and memory.
fn throughput_rows(table: &mut Table, figures: &Figures) {
    let rate_of = |run: Option<&Run>| run.map(|run| run.rate);
    table.info(
        format!(
            "closed loop, most answered ({CONNECTIONS} connections; LiteLLM {LITELLM_CONNECTIONS})"
        ),
        "-".to_owned(),
        cell(rate_of(figures.max_gateway.as_ref()), rate),
        cell(rate_of(figures.max_litellm.as_ref()), rate),
    );
    let direct = figures.open.direct();
    let gateway = figures.open.gateway();
    let at = rate(BAR_RATE);
    // Every round must keep up, not only the median one.
    let slowest = figures
        .open
        .gateway
        .iter()
        .map(|run| run.rate)
        .reduce(f64::min);
    table.bar(
        format!("open loop at {at}: achieved, slowest round"),
        [rate(direct.rate), "not run".to_owned()],
        slowest,
        Limit::AtLeast(BAR_RATE * BAR_RATE_SHARE),
        rate,
    );
    let p50_p99 = |run: &Run| format!("{} / {}", time(run.p50), time(run.p99));
    table.info(
        format!("open loop at {at}: p50 / p99"),
        p50_p99(&direct),
        gateway
            .as_ref()
            .map_or_else(|| "not run".to_owned(), p50_p99),
        "not run".to_owned(),
    );
    let worst = figures
        .open
        .differences(|run| run.p99)
        .into_iter()
        .reduce(f64::max);
    table.bar(
        format!("open loop at {at}: added p99, worst round"),
        ["-".to_owned(), "not run".to_owned()],
        worst,
        Limit::AtMost(BAR_ADDED_P99_AT_RATE_US),
        time,
    );
    let kb = |kb: Option<u64>| kb.map(|kb| kb as f64);
    table.bar(
        "resident memory after the throughput phase".to_owned(),
        ["-".to_owned(), cell(kb(figures.rss_litellm_kb), megabytes)],
        kb(figures.rss_gateway_kb),
        Limit::AtMost(BAR_RSS_KB as f64),
        megabytes,
    );
}

fn render(figures: &Figures, table: Table) -> Report {
    let mut markdown = String::new();
    let _ = writeln!(
        markdown,
        "# load-gateway: orkestra against the simulator directly and LiteLLM's proxy\n\n\
         Release builds on loopback; the simulator's model `m` answers at once, `slow` after 200 ms.\n\
         Concurrency 1: {C1_ROUNDS} rounds of {} s runs, directly, through a bare HTTP hop and through the gateway in turn; the open loop: {OPEN_ROUNDS} rounds of {} s, directly and through the gateway; each run after a warmup.\n\
         The gateway's added latency is the median of the rounds' differences; LiteLLM's ({} s, after the rounds) is its percentile minus the direct runs' median.\n\n\
         | figure | direct | orkestra | LiteLLM | bar | orkestra |\n\
         |---|---:|---:|---:|---|---|",
        slice(figures.seconds, C1_ROUNDS),
        slice(figures.seconds, OPEN_ROUNDS),
        figures.seconds.min(LITELLM_SECONDS)
    );
    for row in &table.rows {
        let _ = writeln!(markdown, "| {} |", row.join(" | "));
    }
    if figures.c1.gateway.is_empty() {
        let _ = writeln!(
            markdown,
            "\nThe gateway was not run (no `orkestra-cli` package yet): its bars are not checked."
        );
    } else {
        let _ = writeln!(
            markdown,
            "\nEach round's difference, gateway minus direct, in order:"
        );
        let rows: [(&str, &Paired, Pick); 3] = [
            ("c=1 p50", &figures.c1, |run| run.p50),
            ("c=1 p99", &figures.c1, |run| run.p99),
            ("open loop p99", &figures.open, |run| run.p99),
        ];
        for (name, paired, pick) in rows {
            let differences: Vec<String> = paired.differences(pick).into_iter().map(time).collect();
            let _ = writeln!(markdown, "- {name}: {}", differences.join(", "));
        }
    }
    let c1 = &figures.c1;
    if let Some(hop_p50) = c1.hop_added(|run| run.p50) {
        let _ = writeln!(
            markdown,
            "\nA bare HTTP hop in the same rounds (`hop`: hyper, one upstream connection, bodies forwarded unparsed) added p50 {}, p99 {}: what one more hop costs on this machine before any work.",
            time(hop_p50),
            cell(c1.hop_added(|run| run.p99), time),
        );
        if let Some(above) = c1.above_hop(|run| run.p50) {
            let _ = writeln!(
                markdown,
                "The gateway above it (median of the rounds' differences): p50 {}, p99 {}.",
                time(above),
                cell(c1.above_hop(|run| run.p99), time),
            );
        }
    }
    cpu_lines(&mut markdown, figures);
    match &figures.against {
        Some(comparison) => comparison_section(&mut markdown, figures, comparison),
        None if !figures.c1.gateway.is_empty() => {
            let _ = writeln!(
                markdown,
                "\nThe CPU bars compare this build with the previous one run beside it: they are not checked without `--against PATH`."
            );
        }
        None => {}
    }
    Report {
        markdown,
        missed: table.missed,
    }
}

/// The gateway's (and `hop`'s) own CPU per request, when their processes were watched.
fn cpu_lines(markdown: &mut String, figures: &Figures) {
    let cpu = |runs: &[Run]| median(runs.iter().filter_map(|run| run.cpu_per_request).collect());
    let gateway_c1 = cpu(&figures.c1.gateway);
    let gateway_max = figures
        .max_gateway
        .as_ref()
        .and_then(|run| run.cpu_per_request);
    if gateway_c1.is_none() && gateway_max.is_none() {
        return;
    }
    let _ = writeln!(
        markdown,
        "\nThe gateway's own CPU per request (user + system, from `/proc/PID/stat` around each run, warmup included at the run's rate): c=1 {}, {CONNECTIONS} connections {}; `hop` at c=1: {}.",
        cell(gateway_c1, time),
        cell(gateway_max, time),
        cell(cpu(&figures.c1.hop), time),
    );
}

/// A figure's name, this build's value, the other build's, and how to show them.
type ComparedRow = (String, Option<f64>, Option<f64>, fn(f64) -> String);

/// This build against the `--against` build, figure by figure, and each round's figures.
fn comparison_section(markdown: &mut String, figures: &Figures, comparison: &Comparison) {
    let label = &comparison.label;
    let c1 = &figures.c1;
    let cpu = |runs: &[Run]| median(runs.iter().filter_map(|run| run.cpu_per_request).collect());
    let rate_of = |runs: &[Run]| median(runs.iter().map(|run| run.rate).collect());
    let rows: [ComparedRow; 5] = [
        (
            "c=1 added p50 (median of the rounds' differences)".to_owned(),
            c1.added(|run| run.p50),
            c1.against_added(|run| run.p50),
            time,
        ),
        (
            "c=1 added p99".to_owned(),
            c1.added(|run| run.p99),
            c1.against_added(|run| run.p99),
            time,
        ),
        (
            "c=1 CPU per request (median of the rounds)".to_owned(),
            cpu(&c1.gateway),
            cpu(&c1.against),
            time,
        ),
        (
            format!("closed loop on {CONNECTIONS} connections, most answered (median)"),
            rate_of(&comparison.max_ours),
            rate_of(&comparison.max_theirs),
            rate,
        ),
        (
            format!("closed loop on {CONNECTIONS} connections, CPU per request"),
            cpu(&comparison.max_ours),
            cpu(&comparison.max_theirs),
            time,
        ),
    ];
    let _ = writeln!(
        markdown,
        "\n## This build against `{label}`, in the same rounds\n\n\
         | figure | this build | `{label}` | this build / `{label}` |\n|---|---:|---:|---:|"
    );
    for (figure, ours, theirs, show) in rows {
        let ratio = match (ours, theirs) {
            (Some(ours), Some(theirs)) if theirs > 0.0 => format!("{:.2}", ours / theirs),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            markdown,
            "| {figure} | {} | {} | {ratio} |",
            cell(ours, show),
            cell(theirs, show)
        );
    }
    let per_round = |runs: &[Run], pick: Pick, show: fn(f64) -> String| {
        runs.iter()
            .map(|run| show(pick(run)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cpu_of = |run: &Run| run.cpu_per_request.unwrap_or(f64::NAN);
    let _ = writeln!(
        markdown,
        "\nEach round, this build then `{label}`:\n\
         - c=1 added p50: {} / {}\n\
         - c=1 CPU per request: {} / {}\n\
         - {CONNECTIONS} connections: {} / {}\n\
         - {CONNECTIONS} connections, CPU per request: {} / {}",
        differences(&c1.direct, &c1.gateway, |run| run.p50)
            .into_iter()
            .map(time)
            .collect::<Vec<_>>()
            .join(", "),
        differences(&c1.direct, &c1.against, |run| run.p50)
            .into_iter()
            .map(time)
            .collect::<Vec<_>>()
            .join(", "),
        per_round(&c1.gateway, cpu_of, time),
        per_round(&c1.against, cpu_of, time),
        per_round(&comparison.max_ours, |run| run.rate, rate),
        per_round(&comparison.max_theirs, |run| run.rate, rate),
        per_round(&comparison.max_ours, cpu_of, time),
        per_round(&comparison.max_theirs, cpu_of, time),
    );
}

/// The length of each run when `rounds` rounds share `seconds`, in seconds, at least 1.
fn slice(seconds: u32, rounds: u32) -> String {
    let each = (f64::from(seconds) / f64::from(rounds)).max(1.0);
    let text = format!("{each:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Runs the load test; `against` is another `orkestra` executable measured beside this
/// build's in the same rounds.
pub(crate) fn run(
    root: &Path,
    seconds: u32,
    with_litellm: bool,
    against: Option<&Path>,
) -> anyhow::Result<()> {
    let gateway_present = root.join("crates/orkestra-cli/Cargo.toml").is_file();
    if !gateway_present {
        println!("{}", warning_banner());
    }
    if with_litellm {
        check_litellm()?;
    }
    build(root, gateway_present)?;
    let release = root.join("target/release");
    let dir = root.join("target/load-gateway");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let loadgen = Loadgen(release.join("loadgen"));
    let against = against
        .map(|path| {
            std::path::absolute(path)
                .with_context(|| format!("--against {}: not a usable path", path.display()))
        })
        .transpose()?;
    let servers = Servers::start(
        &release,
        &dir,
        gateway_present,
        with_litellm,
        against.as_deref(),
    )?;
    let figures = measure(&loadgen, &servers, seconds)?;
    // The servers stop before the report, so a failing bar never leaves them running.
    drop(servers);

    let report = report(&figures);
    let path = dir.join("report.md");
    std::fs::write(&path, &report.markdown)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("\n{}", report.markdown);
    println!("written to {}", path.display());
    if !gateway_present {
        println!("{}", warning_banner());
        return Ok(());
    }
    if !report.missed.is_empty() {
        bail!("the gateway missed: {}", report.missed.join("; "));
    }
    println!("every bar met");
    Ok(())
}

fn check_litellm() -> anyhow::Result<()> {
    const INSTALL: &str = "pip install 'litellm[proxy]'";
    match Command::new("litellm").arg("--version").output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(_) => {
            bail!("`litellm --version` failed: reinstall it with `{INSTALL}`, or pass --no-litellm")
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            bail!("litellm is not installed: install it with `{INSTALL}`, or pass --no-litellm")
        }
        Err(error) => Err(error).context("cannot run litellm"),
    }
}

fn build(root: &Path, gateway_present: bool) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    cmd!(
        sh,
        "cargo build --release --locked -p orkestra-benches --bin loadgen --bin hop"
    )
    .run()?;
    cmd!(
        sh,
        "cargo build --release --locked -p orkestra-mock --example serve"
    )
    .run()?;
    if gateway_present {
        cmd!(
            sh,
            "cargo build --release --locked -p orkestra-cli --bin orkestra"
        )
        .run()?;
    }
    Ok(())
}

/// The simulator, and the gateway and LiteLLM in front of it when they run; dropping this
/// stops them all.
struct Servers {
    // Fields drop in order: the proxies stop before the simulator behind them.
    gateway: Option<(Process, Target)>,
    against: Option<(Process, Target, String)>,
    hop: Option<(Process, Target)>,
    litellm: Option<(Process, Target)>,
    _mock: Process,
    direct: Target,
}

impl Servers {
    fn start(
        release: &Path,
        dir: &Path,
        gateway_present: bool,
        with_litellm: bool,
        against: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let mock_config = write(dir, "mock.toml", MOCK_CONFIG)?;
        let mut command = Command::new(release.join("examples/serve"));
        command.args(["--port", "0", "--config"]).arg(&mock_config);
        let (mock, direct) = start_target("simulator", command, dir, ("m", "slow"), 10)?;
        let mock_base = direct
            .url
            .strip_suffix(CHAT_PATH)
            .context("the simulator's URL")?
            .to_owned();
        let upstream = format!("{mock_base}/v1");
        let start_gateway = |name: &'static str, binary: &Path| {
            // The gateway keeps its statistics and charges in a SQLite file, its default
            // storage; an in-memory database would hold every charge of the run in RAM.
            let database = dir.join(format!("{name}.db"));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
            }
            let config = write(
                dir,
                &format!("{name}.toml"),
                &gateway_config(
                    &upstream,
                    &format!("sqlite://{}?mode=rwc", database.display()),
                ),
            )?;
            let mut command = Command::new(binary);
            command.arg("serve").arg("--config").arg(&config);
            start_target(name, command, dir, ("sim/m", "sim/slow"), 30)
        };
        let gateway = if gateway_present {
            Some(start_gateway("gateway", &release.join("orkestra"))?)
        } else {
            None
        };
        let against = match against {
            Some(binary) if gateway_present => {
                let (process, target) = start_gateway("against", binary)?;
                Some((process, target, binary.display().to_string()))
            }
            _ => None,
        };
        let mut command = Command::new(release.join("hop"));
        command.args(["--port", "0", "--upstream", &mock_base]);
        let hop = Some(start_target("hop", command, dir, ("m", "slow"), 10)?);
        let litellm = if with_litellm {
            Some(start_litellm(dir, &upstream)?)
        } else {
            None
        };
        Ok(Self {
            gateway,
            against,
            hop,
            litellm,
            _mock: mock,
            direct,
        })
    }
}

/// Where every server under test answers chat completions, after its base URL.
const CHAT_PATH: &str = "/v1/chat/completions";

/// Starts a server answering chat completions at [`CHAT_PATH`] for `models` (a quick one and
/// the 200 ms one), and waits up to `patience_seconds` until it does.
fn start_target(
    name: &'static str,
    command: Command,
    dir: &Path,
    (model, slow_model): (&'static str, &'static str),
    patience_seconds: u64,
) -> anyhow::Result<(Process, Target)> {
    let (mut process, base) = Process::start(name, command, dir)?;
    let target = Target {
        url: format!("{base}{CHAT_PATH}"),
        model,
        slow_model,
        headers: Vec::new(),
        pid: Some(process.child.id()),
    };
    wait_until_answering(&mut process, &target, Duration::from_secs(patience_seconds))?;
    Ok((process, target))
}

/// Runs every phase; LiteLLM's are shorter and lighter, as it does not sustain the full load.
fn measure(loadgen: &Loadgen, servers: &Servers, seconds: u32) -> anyhow::Result<Figures> {
    let long = seconds;
    let short = seconds.min(LITELLM_SECONDS);
    let direct = &servers.direct;
    let gateway = servers.gateway.as_ref();
    let against = servers.against.as_ref();
    let hop = servers.hop.as_ref();
    let litellm = servers.litellm.as_ref();
    let on = |server: Option<&(Process, Target)>,
              phase: &dyn Fn(&Target) -> anyhow::Result<Run>| {
        server.map(|(_, target)| phase(target)).transpose()
    };
    // Direct, (hop,) gateway, (against,) direct, (hop,) gateway, (against,) ...
    let paired =
        |rounds: u32, with_peers: bool, phase: &dyn Fn(&Target, &str) -> anyhow::Result<Run>| {
            let mut runs = Paired::default();
            for _ in 0..rounds {
                runs.direct.push(phase(direct, "direct")?);
                if let Some((_, target)) = hop.filter(|_| with_peers) {
                    runs.hop.push(phase(target, "hop")?);
                }
                if let Some((_, target)) = gateway {
                    runs.gateway.push(phase(target, "orkestra")?);
                }
                if let Some((_, target, _)) = against.filter(|_| with_peers) {
                    runs.against.push(phase(target, "against")?);
                }
            }
            anyhow::Ok(runs)
        };

    println!(
        "\nload-gateway: concurrency 1, closed loop, {C1_ROUNDS} rounds of {} s (LiteLLM {short} s)",
        slice(long, C1_ROUNDS)
    );
    let c1 = paired(C1_ROUNDS, true, &|target, name| {
        loadgen.closed(target, name, 1, &slice(long, C1_ROUNDS))
    })?;
    let c1_litellm = on(litellm, &|target| {
        loadgen.closed(target, "litellm", 1, &short.to_string())
    })?;

    println!("\nload-gateway: throughput");
    let (max_gateway, against) = match (gateway, against) {
        (Some((_, ours)), Some((_, theirs, label))) => {
            let each = slice(long, MAX_ROUNDS);
            let mut comparison = Comparison {
                label: label.clone(),
                ..Comparison::default()
            };
            for _ in 0..MAX_ROUNDS {
                let ours = loadgen.closed(ours, "orkestra", CONNECTIONS, &each)?;
                comparison.max_ours.push(ours);
                let theirs = loadgen.closed(theirs, "against", CONNECTIONS, &each)?;
                comparison.max_theirs.push(theirs);
            }
            (Some(median_run(&comparison.max_ours)), Some(comparison))
        }
        _ => (
            on(gateway, &|target| {
                loadgen.closed(target, "orkestra", CONNECTIONS, &long.to_string())
            })?,
            None,
        ),
    };
    let max_litellm = on(litellm, &|target| {
        loadgen.closed(target, "litellm", LITELLM_CONNECTIONS, &short.to_string())
    })?;
    let open = paired(OPEN_ROUNDS, false, &|target, name| {
        loadgen.open(target, name, &slice(long, OPEN_ROUNDS))
    })?;
    let rss_gateway_kb = gateway
        .map(|(process, _)| process.resident_kb())
        .transpose()?;
    let rss_litellm_kb = litellm
        .map(|(process, _)| process.resident_kb())
        .transpose()?;

    println!("\nload-gateway: {BURST} calls at once to the 200 ms model");
    Ok(Figures {
        seconds,
        c1,
        c1_litellm,
        max_gateway,
        against,
        max_litellm,
        open,
        rss_gateway_kb,
        rss_litellm_kb,
        burst_direct: loadgen.burst(direct, "direct")?,
        burst_gateway: on(gateway, &|target| loadgen.burst(target, "orkestra"))?,
        burst_litellm: on(litellm, &|target| loadgen.burst(target, "litellm"))?,
    })
}

fn warning_banner() -> String {
    let line = "=".repeat(78);
    format!(
        "{line}\nWARNING: crates/orkestra-cli does not exist: the gateway is NOT measured and its\n\
         bars are NOT checked; only the direct and LiteLLM figures are.\n{line}"
    )
}

/// The simulator: `m` answers at once, `slow` after 200 ms; both echo the prompt.
const MOCK_CONFIG: &str = r#"# Written by `cargo xtask load-gateway`.
[[models]]
name = "m"

[[models]]
name = "slow"
ttft = { fixed = "200ms" }
"#;

/// The gateway's configuration, in front of the simulator at `base_url`.
pub(crate) fn gateway_config(base_url: &str, storage: &str) -> String {
    format!(
        r#"# Written by `cargo xtask load-gateway`.
[server]
listen = "127.0.0.1:0"

[storage]
url = "{storage}"

[routing]
strategy = "balanced"

[providers.sim]
kind = "openai"
base_url = "{base_url}"

[models]
catalog = "none"

[[models.list]]
id = "sim/m"
context_window = 128000
max_output_tokens = 4096

[[models.list]]
id = "sim/slow"
context_window = 128000
max_output_tokens = 4096
"#
    )
}

/// LiteLLM's proxy configuration, in front of the simulator at `base_url`.
pub(crate) fn litellm_config(base_url: &str) -> String {
    let mut yaml = String::from("# Written by `cargo xtask load-gateway`.\nmodel_list:\n");
    for model in ["m", "slow"] {
        let _ = write!(
            yaml,
            "  - model_name: {model}\n    litellm_params:\n      model: openai/{model}\n      api_base: {base_url}\n      api_key: x\n"
        );
    }
    yaml
}

fn write(dir: &Path, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn start_litellm(dir: &Path, upstream: &str) -> anyhow::Result<(Process, Target)> {
    let config = write(dir, "litellm.yaml", &litellm_config(upstream))?;
    let port = free_port()?;
    let mut command = Command::new("litellm");
    command
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("LITELLM_MASTER_KEY", LITELLM_KEY)
        .arg("--config")
        .arg(&config)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--num_workers", "1"]);
    let mut process = Process::spawn("litellm", command, dir, false)?;
    let target = Target {
        url: format!("http://127.0.0.1:{port}{CHAT_PATH}"),
        model: "m",
        slow_model: "slow",
        headers: vec![format!("Authorization: Bearer {LITELLM_KEY}")],
        pid: None,
    };
    println!(
        "load-gateway: waiting for LiteLLM on port {port} (log: {})",
        process.log.display()
    );
    wait_until_answering(&mut process, &target, Duration::from_mins(2))?;
    Ok((process, target))
}

/// A port that was free a moment ago, for a server that cannot report the one it took.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Where requests go and what they name.
#[derive(Debug)]
struct Target {
    url: String,
    model: &'static str,
    slow_model: &'static str,
    /// Extra headers, as `loadgen --header` takes them.
    headers: Vec<String>,
    /// The server's process, whose CPU time each run measures; `None` when it is not one
    /// process of ours to watch.
    pid: Option<u32>,
}

/// Polls `target` with one chat request until it answers 200, the process exits, or `within`
/// passes.
fn wait_until_answering(
    process: &mut Process,
    target: &Target,
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    let mut last = String::from("no attempt");
    while Instant::now() < deadline {
        if let Some(status) = process.exited()? {
            bail!(
                "the {} exited ({status}) before answering; its log is {}",
                process.name,
                process.log.display()
            );
        }
        match probe(target) {
            Ok(200) => return Ok(()),
            Ok(status) => last = format!("status {status}"),
            Err(error) => last = format!("{error:#}"),
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!(
        "the {} did not answer {} with 200 within {} s (last: {last}); its log is {}",
        process.name,
        target.url,
        within.as_secs(),
        process.log.display()
    )
}

/// Sends one chat request over a fresh connection and returns the status code.
fn probe(target: &Target) -> anyhow::Result<u16> {
    let rest = target
        .url
        .strip_prefix("http://")
        .context("not an http:// URL")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let body = format!(
        r#"{{"model":"{}","messages":[{{"role":"user","content":"ping"}}]}}"#,
        target.model
    );
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for header in &target.headers {
        let _ = write!(request, "{header}\r\n");
    }
    let _ = write!(request, "\r\n{body}");
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .with_context(|| format!("not an HTTP answer: {:?}", answer.lines().next()))
}

/// The `loadgen` binary and the phases it runs.
struct Loadgen(PathBuf);

impl Loadgen {
    fn closed(
        &self,
        target: &Target,
        name: &str,
        connections: u32,
        seconds: &str,
    ) -> anyhow::Result<Run> {
        let connections = connections.to_string();
        let run = self.run(
            target,
            target.model,
            &[
                "--connections",
                &connections,
                "--seconds",
                seconds,
                "--warmup",
                "1",
            ],
            1.0,
        )?;
        println!(
            "  {name:<9} closed loop, {connections:>2} connections: {:>9}, p50 {:>8}, p99 {:>8}, p99.9 {:>8}, max {:>8}{}",
            rate(run.rate),
            time(run.p50),
            time(run.p99),
            time(run.p999),
            time(run.max),
            failures(&run)
        );
        Ok(run)
    }

    fn open(&self, target: &Target, name: &str, seconds: &str) -> anyhow::Result<Run> {
        let connections = CONNECTIONS.to_string();
        let rate_arg = format!("{BAR_RATE:.0}");
        let run = self.run(
            target,
            target.model,
            &[
                "--rate",
                &rate_arg,
                "--connections",
                &connections,
                "--seconds",
                seconds,
                "--warmup",
                "2",
            ],
            2.0,
        )?;
        println!(
            "  {name:<9} open loop at {}: {:>9}, p50 {:>8}, p90 {:>8}, p99 {:>8}, max {:>8}{}",
            rate(BAR_RATE),
            rate(run.rate),
            time(run.p50),
            time(run.p90),
            time(run.p99),
            time(run.max),
            failures(&run)
        );
        Ok(run)
    }

    fn burst(&self, target: &Target, name: &str) -> anyhow::Result<Run> {
        let burst = BURST.to_string();
        // One unrecorded burst first opens the servers' upstream connections, then three
        // measured ones; the slowest is the figure.
        let run = self.run(
            target,
            target.slow_model,
            &["--burst", &burst, "--repeat", "3", "--warmup", "1"],
            0.0,
        )?;
        let walls: Vec<String> = run.bursts.iter().map(|wall| time(*wall)).collect();
        println!(
            "  {name:<9} burst of {BURST}: wall {}{}",
            walls.join(", "),
            failures(&run)
        );
        Ok(run)
    }

    /// Runs `loadgen` with `args` (whose warmup lasts `warmup_seconds`) against `target`,
    /// measuring the target's CPU time over the run.
    fn run(
        &self,
        target: &Target,
        model: &str,
        args: &[&str],
        warmup_seconds: f64,
    ) -> anyhow::Result<Run> {
        let cpu_before = target.pid.and_then(cpu_seconds);
        let mut command = Command::new(&self.0);
        command
            .args(["--url", &target.url, "--model", model])
            .args(args);
        for header in &target.headers {
            command.args(["--header", header]);
        }
        let output = command
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run {}", self.0.display()))?;
        if !output.status.success() {
            bail!("loadgen against {} failed ({})", target.url, output.status);
        }
        let mut run = parse_run(&String::from_utf8_lossy(&output.stdout))
            .with_context(|| format!("reading loadgen's summary for {}", target.url))?;
        if let (Some(before), Some(after)) = (cpu_before, target.pid.and_then(cpu_seconds)) {
            // The warmup's answers are not counted by loadgen but cost CPU all the same: a
            // closed loop answers them at the measured rate.
            let answered = run.requests as f64 + run.rate * warmup_seconds;
            run.cpu_per_request = (answered > 0.0).then(|| (after - before) * 1e6 / answered);
        }
        Ok(run)
    }
}

fn failures(run: &Run) -> String {
    if run.errors == 0 && run.non_2xx == 0 {
        return String::new();
    }
    format!(
        "; {} errors, {} non-2xx (first error: {})",
        run.errors,
        run.non_2xx,
        run.first_error.as_deref().unwrap_or("-")
    )
}

/// A child process, killed with everything it started when this value is dropped.
struct Process {
    name: &'static str,
    child: Child,
    /// Where its output goes.
    log: PathBuf,
}

impl Process {
    /// Starts a server that prints `listening on http://HOST:PORT` as its first line of
    /// output; returns it and that base URL.
    fn start(name: &'static str, command: Command, dir: &Path) -> anyhow::Result<(Self, String)> {
        let mut process = Self::spawn(name, command, dir, true)?;
        let stdout = process
            .child
            .stdout
            .take()
            .context("the server's stdout is not captured")?;
        let mut log = File::options()
            .append(true)
            .open(&process.log)
            .with_context(|| format!("cannot open {}", process.log.display()))?;
        let (sender, receiver) = mpsc::channel();
        // A thread reads the first line, then copies the rest to the log so that the server
        // never blocks (or fails) writing to a pipe nobody reads.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = sender.send(first);
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
            }
        });
        let first = match receiver.recv_timeout(Duration::from_mins(1)) {
            Ok(Some(Ok(line))) => line,
            Ok(_) => bail!(
                "the {name} ended its output before saying where it listens; its log is {}",
                process.log.display()
            ),
            Err(_) => bail!(
                "the {name} did not say where it listens within 60 s; its log is {}",
                process.log.display()
            ),
        };
        let base = first
            .trim()
            .strip_prefix("listening on ")
            .with_context(|| format!("unexpected first line from the {name}: {first:?}"))?
            .to_owned();
        println!(
            "load-gateway: {name} listening on {base} (pid {})",
            process.child.id()
        );
        Ok((process, base))
    }

    /// Spawns `command` with its standard error (and its output unless `capture_stdout`) in
    /// `dir/<name>.log`.
    fn spawn(
        name: &'static str,
        mut command: Command,
        dir: &Path,
        capture_stdout: bool,
    ) -> anyhow::Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let file =
            File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        command.stdin(Stdio::null()).stderr(file.try_clone()?);
        if capture_stdout {
            command.stdout(Stdio::piped());
        } else {
            command.stdout(file);
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start the {name} ({command:?})"))?;
        Ok(Self { name, child, log })
    }

    fn exited(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("cannot check on the {}", self.name))
    }

    /// Resident memory in kB: the process and every process it started.
    fn resident_kb(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        for pid in std::iter::once(self.child.id()).chain(descendants(self.child.id())) {
            let path = format!("/proc/{pid}/status");
            let Ok(status) = std::fs::read_to_string(&path) else {
                // A child that exited in between has no memory left to count.
                continue;
            };
            total += vm_rss_kb(&status).with_context(|| format!("no VmRSS line in {path}"))?;
        }
        Ok(total)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // The children are listed before the parent dies, while they are still its children.
        let descendants = descendants(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !descendants.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(descendants.iter().map(u32::to_string))
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The `VmRSS` of a `/proc/<pid>/status` text, in kB.
pub(crate) fn vm_rss_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

/// The parent pid in a `/proc/<pid>/stat` text; the command name in parentheses may itself
/// hold spaces and parentheses, so the fields are counted after the last `)`.
pub(crate) fn parent_pid(stat: &str) -> Option<u32> {
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The user and system CPU time of a `/proc/<pid>/stat` text, in clock ticks: fields 14 and 15,
/// counted after the command name as [`parent_pid`] does.
pub(crate) fn cpu_ticks(stat: &str) -> Option<u64> {
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The CPU time process `pid` has used so far, every thread counted, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    static TICKS_PER_SECOND: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks_per_second = *TICKS_PER_SECOND.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    });
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(cpu_ticks(&stat)? as f64 / ticks_per_second)
}

/// Every process below `pid`, children first.
fn descendants(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = entries
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            Some((child, parent_pid(&stat)?))
        })
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (child, _) in parents.iter().filter(|(_, of)| *of == parent) {
            found.push(*child);
            frontier.push(*child);
        }
    }
    found
}
