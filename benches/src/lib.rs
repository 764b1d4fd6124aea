//! Cross-crate benches of orkestra, starting with `loadgen`, the HTTP load generator behind
//! `cargo xtask load-gateway`.
//!
//! `loadgen` POSTs one JSON body to one URL over hyper's HTTP/1 client (one keep-alive
//! connection per worker, `TCP_NODELAY` set) and prints one JSON object of figures, in
//! microseconds, on standard output. It has three modes:
//!
//! - closed loop (`--connections C --seconds S`): each connection sends its next request as soon
//!   as the previous answer is fully read, which measures the most a server sustains;
//! - open loop (`--rate R`): requests are due at fixed intervals whatever the server does, and
//!   latency counts from the time a request was due, so a stalled server cannot hide its stall
//!   by slowing the client down (no coordinated omission);
//! - burst (`--burst N`): N requests at once on N connections opened beforehand, timed until
//!   the last answer.
//!
//! The pieces are values in, values out where they can be: [`options`] reads the command line,
//! [`summary`] turns recorded latencies into the printed figures, and [`run`] is the only part
//! doing IO.
//!
//! ```
//! use orkestra_benches::options::{Mode, Options};
//!
//! let options = Options::parse(["--url", "http://127.0.0.1:8080/v1/chat/completions", "--rate", "1000"])?;
//! assert_eq!(options.mode, Mode::Open { rate: 1000.0 });
//! # Ok::<(), orkestra_benches::options::OptionsError>(())
//! ```
//!
//! The package's second binary, `hop` (`hop --upstream http://IP:PORT [--port P]`), is the
//! least an HTTP proxy can do: hyper on both sides, one upstream connection per client
//! connection, bodies read whole and forwarded unparsed. `load-gateway` measures it beside the
//! gateway, so its report tells what one more HTTP hop costs on the machine from what the
//! gateway's own work costs.
//!
//! This package has no feature flags.

pub mod options;
pub mod request;
pub mod run;
pub mod summary;
