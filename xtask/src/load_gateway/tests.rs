use super::*;

const SUMMARY: &str = r#"{"mode":"closed","url":"http://127.0.0.1:1/v1/chat/completions","connections":1,"seconds":3.0,"warmup_seconds":1.0,"target_rate":null,"requests":70068,"errors":1,"non_2xx":2,"reconnects":0,"elapsed_us":3000012.2,"rate":23355.9,"latency_us":{"min":25.1,"mean":42.6,"p50":31.1,"p90":73.0,"p99":119.7,"p99.9":580.0,"max":7131.1},"burst_wall_us":[205764.4,203908.4],"first_error":"http: connection reset"}"#;

#[test]
fn loadgen_summaries_are_read() {
    let run = parse_run(SUMMARY).expect("a summary");
    assert_eq!(
        run,
        Run {
            rate: 23355.9,
            requests: 70068,
            errors: 1,
            non_2xx: 2,
            p50: 31.1,
            p90: 73.0,
            p99: 119.7,
            p999: 580.0,
            max: 7131.1,
            bursts: vec![205_764.4, 203_908.4],
            first_error: Some("http: connection reset".to_owned()),
            cpu_per_request: None,
        }
    );
    assert!((run.worst_burst() - 205_764.4).abs() < 1e-9);
}

#[test]
fn a_summary_without_percentiles_is_an_error_naming_the_field() {
    let error =
        parse_run(r#"{"rate":1.0,"requests":1,"errors":0,"non_2xx":0}"#).expect_err("no latency");
    assert_eq!(
        error.to_string(),
        "loadgen's summary has no number at latency_us.p50"
    );
    assert!(parse_run("error: connection refused").is_err());
}

fn run(p50: f64, p99: f64) -> Run {
    Run {
        rate: 10_000.0,
        requests: 1_000,
        p50,
        p90: p50,
        p99,
        p999: p99,
        max: p99,
        ..Run::default()
    }
}

fn burst(wall: f64) -> Run {
    Run {
        bursts: vec![wall],
        ..run(wall, wall)
    }
}

/// One pair: `direct`, then `gateway`.
fn pair(direct: Run, gateway: Run) -> Paired {
    Paired {
        direct: vec![direct],
        gateway: vec![gateway],
        hop: Vec::new(),
        against: Vec::new(),
    }
}

/// Figures where the gateway meets every bar (20 us above the bare hop) and LiteLLM is 20x
/// slower.
fn good() -> Figures {
    Figures {
        seconds: 10,
        c1: Paired {
            hop: vec![run(60.0, 200.0)],
            ..pair(run(30.0, 100.0), run(80.0, 300.0))
        },
        c1_litellm: Some(run(1_030.0, 4_100.0)),
        max_gateway: Some(run(0.0, 0.0)),
        against: None,
        max_litellm: Some(Run {
            rate: 400.0,
            ..run(0.0, 0.0)
        }),
        open: pair(run(400.0, 2_000.0), run(600.0, 4_000.0)),
        rss_gateway_kb: Some(20 * 1024),
        rss_litellm_kb: Some(300 * 1024),
        burst_direct: burst(203_000.0),
        burst_gateway: Some(burst(210_000.0)),
        burst_litellm: Some(burst(900_000.0)),
    }
}

#[track_caller]
fn row<'a>(report: &'a Report, figure: &str) -> Vec<&'a str> {
    let line = report
        .markdown
        .lines()
        .find(|line| line.starts_with(&format!("| {figure} |")))
        .unwrap_or_else(|| panic!("no row `{figure}` in\n{}", report.markdown));
    line.trim_matches('|').split(" | ").map(str::trim).collect()
}

#[test]
fn a_gateway_within_every_bar_misses_nothing() {
    let report = report(&good());
    assert_eq!(report.missed, Vec::<String>::new());
    // Added latency itself is the machine's as much as ours: reported, not a bar.
    assert_eq!(
        row(&report, "c=1 added p50"),
        ["c=1 added p50", "-", "50 us", "1000 us", "", ""]
    );
    assert_eq!(
        row(&report, "c=1 added p99"),
        ["c=1 added p99", "-", "200 us", "4000 us", "", ""]
    );
    assert_eq!(
        row(&report, "c=1 added p50 above the bare hop"),
        [
            "c=1 added p50 above the bare hop",
            "-",
            "20 us",
            "-",
            "<= 25 us",
            "met"
        ]
    );
    // Without another build beside it, the CPU bars cannot be checked, and the report says so.
    assert_eq!(
        row(
            &report,
            "CPU per request on 1 connection(s), this build / `--against`"
        )[4..],
        ["<= 0.67x", "not checked"]
    );
    assert!(
        report
            .markdown
            .contains("they are not checked without `--against PATH`"),
        "{}",
        report.markdown
    );
    assert_eq!(
        row(&report, "LiteLLM / orkestra, added p50"),
        [
            "LiteLLM / orkestra, added p50",
            "-",
            "1x",
            "20.0x",
            ">= 10x (goal)",
            "met (goal)"
        ]
    );
    assert_eq!(
        row(&report, "open loop at 10,000/s: added p99, worst round"),
        [
            "open loop at 10,000/s: added p99, worst round",
            "-",
            "2000 us",
            "not run",
            "<= 5000 us",
            "met"
        ]
    );
    assert_eq!(
        row(&report, "resident memory after the throughput phase"),
        [
            "resident memory after the throughput phase",
            "-",
            "20.0 MB",
            "300.0 MB",
            "<= 50.0 MB",
            "met"
        ]
    );
    assert_eq!(
        row(
            &report,
            "50 calls at once to a 200 ms model: slowest wall time"
        ),
        [
            "50 calls at once to a 200 ms model: slowest wall time",
            "203.0 ms",
            "210.0 ms",
            "900.0 ms",
            "<= 250.0 ms",
            "met"
        ]
    );
}

#[test]
fn added_latency_is_the_median_of_the_rounds_differences() {
    let mut figures = good();
    // The machine slowed down during the second pair and hiccuped in the gateway's third run.
    figures.c1 = Paired {
        direct: vec![run(70.0, 150.0), run(110.0, 200.0), run(72.0, 140.0)],
        gateway: vec![run(150.0, 300.0), run(200.0, 350.0), run(400.0, 900.0)],
        hop: vec![run(130.0, 260.0), run(175.0, 330.0), run(140.0, 250.0)],
        against: Vec::new(),
    };
    assert_eq!(figures.c1.differences(|run| run.p50), [80.0, 90.0, 328.0]);
    let report = report(&figures);
    // Not 200 - 72 (the medians' difference) nor the mean of the differences (166).
    assert_eq!(row(&report, "c=1 added p50")[2], "90 us");
    assert_eq!(row(&report, "c=1 added p99")[2], "150 us");
    assert_eq!(
        row(&report, "c=1 latency p50")[1..3],
        ["72 us", "200 us"],
        "each side's figures are the medians of its runs"
    );
    // LiteLLM ran once; its added latency is against the direct runs' median (72 us).
    assert_eq!(row(&report, "c=1 added p50")[3], "958 us");
    assert!(
        report
            .markdown
            .contains("- c=1 p50: 80 us, 90 us, 328 us\n"),
        "{}",
        report.markdown
    );
    // The bare hop's differences are 60, 65, 68 (p50) and 110, 130, 110 (p99); the gateway
    // above it: 20, 25, 260 and 40, 20, 650.
    assert!(
        report.markdown.contains("added p50 65 us, p99 110 us:")
            && report
                .markdown
                .contains("above it (median of the rounds' differences): p50 25 us, p99 40 us."),
        "{}",
        report.markdown
    );
}

#[test]
fn an_even_number_of_rounds_takes_the_middle_twos_mean_and_counts_add_up() {
    let paired = Paired {
        direct: vec![run(10.0, 10.0), run(20.0, 20.0)],
        gateway: vec![
            Run {
                errors: 2,
                ..run(50.0, 50.0)
            },
            Run {
                non_2xx: 1,
                ..run(80.0, 80.0)
            },
        ],
        hop: Vec::new(),
        against: Vec::new(),
    };
    assert_eq!(paired.added(|run| run.p50), Some(50.0));
    let gateway = paired.gateway().expect("the gateway ran");
    assert!((gateway.p50 - 65.0).abs() < 1e-9, "{}", gateway.p50);
    assert_eq!(
        (gateway.requests, gateway.errors, gateway.non_2xx),
        (2_000, 2, 1)
    );
    assert_eq!(Paired::default().added(|run| run.p50), None);
    assert_eq!(Paired::default().gateway(), None);
    assert_eq!(paired.hop_added(|run| run.p50), None, "hop was not run");
    assert_eq!(paired.above_hop(|run| run.p50), None);
}

#[test]
fn every_missed_bar_is_named() {
    let mut figures = good();
    figures.c1.gateway = vec![run(200.0, 500.0)];
    figures.open.gateway = vec![Run {
        rate: 8_000.0,
        ..run(5_000.0, 9_000.0)
    }];
    figures.rss_gateway_kb = Some(60 * 1024);
    figures.burst_gateway = Some(Run {
        non_2xx: 3,
        ..burst(400_000.0)
    });
    let report = report(&figures);
    assert_eq!(
        report.missed,
        [
            "c=1 added p50 above the bare hop: 140 us (bar <= 25 us)",
            "open loop at 10,000/s: achieved, slowest round: 8,000/s (bar >= 9,900/s)",
            "open loop at 10,000/s: added p99, worst round: 7000 us (bar <= 5000 us)",
            "resident memory after the throughput phase: 60.0 MB (bar <= 50.0 MB)",
            "50 calls at once to a 200 ms model: slowest wall time: 400.0 ms (bar <= 250.0 ms)",
            "failed requests (errors and non-2xx), all phases: 3 (bar <= 0)",
        ]
    );
    assert_eq!(
        row(&report, "c=1 added p50 above the bare hop")[5],
        "**missed**"
    );
    // The ratio is a goal: reported, never a failure.
    assert_eq!(
        row(&report, "LiteLLM / orkestra, added p50")[5],
        "missed (goal)"
    );
}

#[test]
fn without_the_gateway_nothing_is_checked_and_the_peers_are_still_reported() {
    let mut figures = Figures {
        max_gateway: None,
        rss_gateway_kb: None,
        burst_gateway: None,
        ..good()
    };
    figures.c1.gateway.clear();
    figures.open.gateway.clear();
    let report = report(&figures);
    assert!(report.missed.is_empty());
    assert_eq!(
        row(&report, "c=1 latency p50"),
        ["c=1 latency p50", "30 us", "not run", "1030 us", "", ""]
    );
    assert_eq!(
        row(&report, "c=1 added p50 above the bare hop")[5],
        "not checked"
    );
    assert!(report.markdown.contains("The gateway was not run"));
}

#[test]
fn the_open_loop_must_hold_in_every_round_not_only_the_median_one() {
    let mut figures = good();
    figures.open = Paired {
        direct: vec![run(400.0, 2_000.0); 3],
        gateway: vec![
            run(600.0, 4_000.0),
            Run {
                rate: 9_500.0,
                ..run(700.0, 8_000.0)
            },
            run(600.0, 4_500.0),
        ],
        hop: Vec::new(),
        against: Vec::new(),
    };
    // The medians (rate 10,000/s, added p99 2.5 ms) would pass; the second round did not.
    assert_eq!(figures.open.added(|run| run.p99), Some(2_500.0));
    let report = report(&figures);
    assert_eq!(
        report.missed,
        [
            "open loop at 10,000/s: achieved, slowest round: 9,500/s (bar >= 9,900/s)",
            "open loop at 10,000/s: added p99, worst round: 6000 us (bar <= 5000 us)",
        ]
    );
}

#[test]
fn rates_are_grouped_by_thousands() {
    assert_eq!(rate(10_000.0), "10,000/s");
    assert_eq!(rate(987.4), "987/s");
    assert_eq!(rate(1_234_567.0), "1,234,567/s");
}

#[test]
fn another_build_is_compared_figure_by_figure_in_the_same_rounds() {
    let cpu = |cpu: f64, run: Run| Run {
        cpu_per_request: Some(cpu),
        ..run
    };
    let mut figures = good();
    figures.c1 = Paired {
        direct: vec![run(100.0, 200.0), run(110.0, 210.0), run(90.0, 190.0)],
        gateway: vec![
            cpu(150.0, run(150.0, 300.0)),
            cpu(160.0, run(170.0, 320.0)),
            cpu(140.0, run(140.0, 280.0)),
        ],
        hop: Vec::new(),
        against: vec![
            cpu(200.0, run(200.0, 400.0)),
            cpu(210.0, run(220.0, 420.0)),
            cpu(190.0, run(180.0, 380.0)),
        ],
    };
    let closed = |rate: f64, per_request: f64| Run {
        rate,
        ..cpu(per_request, run(0.0, 0.0))
    };
    figures.against = Some(Comparison {
        label: "old/orkestra".to_owned(),
        max_ours: vec![
            closed(20_000.0, 90.0),
            closed(21_000.0, 80.0),
            closed(19_000.0, 100.0),
        ],
        max_theirs: vec![
            closed(15_000.0, 120.0),
            closed(16_000.0, 110.0),
            closed(14_000.0, 130.0),
        ],
    });
    let report = report(&figures);
    let line = |figure: &str| {
        report
            .markdown
            .lines()
            .find(|line| line.starts_with(&format!("| {figure} |")))
            .unwrap_or_else(|| panic!("no row {figure:?} in\n{}", report.markdown))
            .to_owned()
    };
    // Added p50 per round: ours 50, 60, 50; theirs 100, 110, 90: medians 50 and 100.
    assert_eq!(
        line("c=1 added p50 (median of the rounds' differences)"),
        "| c=1 added p50 (median of the rounds' differences) | 50 us | 100 us | 0.50 |"
    );
    assert_eq!(
        line("c=1 CPU per request (median of the rounds)"),
        "| c=1 CPU per request (median of the rounds) | 150 us | 200 us | 0.75 |"
    );
    assert_eq!(
        line("closed loop on 64 connections, most answered (median)"),
        "| closed loop on 64 connections, most answered (median) | 20,000/s | 15,000/s | 1.33 |"
    );
    assert!(
        report.markdown.contains(
            "- 64 connections: 20,000/s, 21,000/s, 19,000/s / 15,000/s, 16,000/s, 14,000/s"
        ),
        "{}",
        report.markdown
    );
    // CPU per request: 150 against 200 us at c=1 (0.75, not a third below: missed), 90 against
    // 120 us on 64 connections (0.75).
    assert_eq!(
        report.missed,
        [
            "CPU per request on 1 connection(s), this build / `--against`: 0.75x (bar <= 0.67x)",
            "CPU per request on 64 connection(s), this build / `--against`: 0.75x (bar <= 0.67x)",
        ]
    );
    let mut better = figures.clone();
    let comparison = better.against.as_mut().expect("compared");
    for run in &mut comparison.max_ours {
        run.cpu_per_request = run.cpu_per_request.map(|cpu| cpu / 2.0);
    }
    for run in &mut better.c1.gateway {
        run.cpu_per_request = Some(100.0);
    }
    let report = super::report(&better);
    assert_eq!(report.missed, Vec::<String>::new());
    assert_eq!(
        row(
            &report,
            "CPU per request on 64 connection(s), this build / `--against`"
        )[2..],
        ["0.38x", "-", "<= 0.67x", "met"]
    );
}

#[test]
fn proc_files_give_memory_and_parents() {
    let status = "Name:\torkestra\nVmPeak:\t  99999 kB\nVmRSS:\t   23456 kB\nThreads:\t3\n";
    assert_eq!(vm_rss_kb(status), Some(23_456));
    assert_eq!(vm_rss_kb("Name:\tx\n"), None);
    assert_eq!(
        parent_pid("4242 (python3 (worker) x) S 4200 4242 4200 0 -1"),
        Some(4200)
    );
    // After the name: state, ppid, pgrp, session, tty, tpgid, flags, minflt, cminflt,
    // majflt, cmajflt, then utime and stime.
    let stat = "4242 (orkestra (x)) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 567 0 0 20 0 3";
    assert_eq!(cpu_ticks(stat), Some(1_801));
    assert_eq!(cpu_ticks("4242 (orkestra) S 1"), None);
}

#[test]
fn the_configurations_point_at_the_simulator() {
    let gateway = gateway_config(
        "http://127.0.0.1:4321/v1",
        "sqlite:///tmp/x/orkestra.db?mode=rwc",
    );
    let parsed: toml::Table = gateway.parse().expect("TOML");
    assert_eq!(
        parsed["storage"]["url"].as_str(),
        Some("sqlite:///tmp/x/orkestra.db?mode=rwc")
    );
    assert_eq!(
        parsed["providers"]["sim"]["base_url"].as_str(),
        Some("http://127.0.0.1:4321/v1")
    );
    assert_eq!(parsed["models"]["list"][1]["id"].as_str(), Some("sim/slow"));
    let litellm = litellm_config("http://127.0.0.1:4321/v1");
    assert!(litellm.contains("  - model_name: m\n    litellm_params:\n      model: openai/m\n      api_base: http://127.0.0.1:4321/v1\n"));
    assert!(litellm.contains("model: openai/slow"));
}
