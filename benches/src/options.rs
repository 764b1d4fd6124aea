//! The command line of `loadgen`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

#[cfg(test)]
mod tests;

/// The usage text printed by `loadgen --help` and after a command-line error.
pub const USAGE: &str = "\
Usage: loadgen --url URL [flags]

POSTs a JSON body to URL and prints one JSON object of figures (latencies in microseconds).

Modes:
  (default)          Closed loop: each connection sends its next request when the previous
                     answer is fully read.
  --rate R           Open loop: R requests/s due at fixed intervals, latency counted from the
                     time each request was due.
  --burst N          N requests at once on N connections opened beforehand; reports the wall
                     time until the last answer (see --repeat).

Flags:
  --url URL          http://HOST:PORT/PATH to POST to (required).
  --connections C    Keep-alive connections, one worker each (default 1; --burst sets it to N).
  --seconds S        Measured time, fractions allowed (default 10).
  --warmup S         Unrecorded time before the measurement (default 1); with --burst, a
                     positive value sends one unrecorded burst first.
  --repeat K         Measured bursts (default 1).
  --body FILE        The JSON body to send (default: a ~1 KB OpenAI chat request).
  --model M          The model of the default body (default m).
  --header 'K: V'    An extra request header, repeatable.
  --threads T        Runtime worker threads (default 1: the load generator stays on one core).
  -h, --help         Print this text.
";

/// What `loadgen` does.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Each connection sends the next request when the previous answer is read.
    Closed,
    /// Requests are due at fixed intervals.
    Open {
        /// Requests per second, over all connections.
        rate: f64,
    },
    /// This many requests at once on as many connections.
    Burst {
        /// Requests (and connections).
        requests: usize,
    },
}

/// A command line, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The URL to POST to, as given.
    pub url: String,
    /// The mode.
    pub mode: Mode,
    /// Connections, one worker each.
    pub connections: usize,
    /// How long the measurement lasts (closed and open loops).
    pub seconds: Duration,
    /// How long the unrecorded warmup lasts.
    pub warmup: Duration,
    /// Measured bursts.
    pub repeat: u32,
    /// The body file; `None` sends the default chat request.
    pub body: Option<PathBuf>,
    /// The model named in the default body.
    pub model: String,
    /// Extra request headers, name and value.
    pub headers: Vec<(String, String)>,
    /// Runtime worker threads.
    pub threads: usize,
}

impl Default for Options {
    /// One connection, closed loop, 10 seconds after a 1 second warmup, model `m`, no URL.
    fn default() -> Self {
        Self {
            url: String::new(),
            mode: Mode::Closed,
            connections: 1,
            seconds: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            repeat: 1,
            body: None,
            model: "m".to_owned(),
            headers: Vec::new(),
            threads: 1,
        }
    }
}

/// Why a command line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// `--help` was asked for: not an error, but parsing stops there.
    #[error("help requested")]
    Help,
    /// `--url` is missing.
    #[error("--url is required")]
    MissingUrl,
    /// A flag needs a value and got none.
    #[error("`{0}` needs a value")]
    MissingValue(&'static str),
    /// A flag's value is not what it takes.
    #[error("`{flag}` needs {expected}, not `{value}`")]
    BadValue {
        /// The flag.
        flag: &'static str,
        /// What it takes.
        expected: &'static str,
        /// What was given.
        value: String,
    },
    /// A flag `loadgen` does not know.
    #[error("unknown argument `{0}`")]
    Unknown(String),
    /// `--rate` and `--burst` were both given.
    #[error("--rate and --burst cannot be combined")]
    RateAndBurst,
}

impl Options {
    /// Reads the arguments after the program name.
    pub fn parse<I, S>(args: I) -> Result<Self, OptionsError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut options = Self::default();
        let mut url = None;
        let mut rate = None;
        let mut burst = None;
        let mut args = args.into_iter().map(Into::into);
        while let Some(arg) = args.next() {
            let mut value =
                |flag: &'static str| args.next().ok_or(OptionsError::MissingValue(flag));
            match arg.as_str() {
                "-h" | "--help" => return Err(OptionsError::Help),
                "--url" => url = Some(http_url(value("--url")?)?),
                "--connections" => {
                    options.connections = count("--connections", value("--connections")?)?;
                }
                "--seconds" => options.seconds = seconds("--seconds", value("--seconds")?, false)?,
                "--warmup" => options.warmup = seconds("--warmup", value("--warmup")?, true)?,
                "--rate" => rate = Some(positive_rate(value("--rate")?)?),
                "--burst" => burst = Some(count("--burst", value("--burst")?)?),
                "--repeat" => {
                    let given = value("--repeat")?;
                    options.repeat =
                        u32::try_from(count("--repeat", given.clone())?).map_err(|_| {
                            OptionsError::BadValue {
                                flag: "--repeat",
                                expected: "a positive whole number",
                                value: given,
                            }
                        })?;
                }
                "--body" => options.body = Some(PathBuf::from(value("--body")?)),
                "--model" => options.model = value("--model")?,
                "--header" => options.headers.push(header(value("--header")?)?),
                "--threads" => options.threads = count("--threads", value("--threads")?)?,
                _ => return Err(OptionsError::Unknown(arg)),
            }
        }
        options.url = url.ok_or(OptionsError::MissingUrl)?;
        options.mode = match (rate, burst) {
            (Some(_), Some(_)) => return Err(OptionsError::RateAndBurst),
            (Some(rate), None) => Mode::Open { rate },
            (None, Some(requests)) => {
                options.connections = requests;
                Mode::Burst { requests }
            }
            (None, None) => Mode::Closed,
        };
        Ok(options)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "closed",
            Self::Open { .. } => "open",
            Self::Burst { .. } => "burst",
        })
    }
}

fn http_url(value: String) -> Result<String, OptionsError> {
    if value.starts_with("http://") && value.len() > "http://".len() {
        Ok(value)
    } else {
        Err(OptionsError::BadValue {
            flag: "--url",
            expected: "an http:// URL",
            value,
        })
    }
}

fn count(flag: &'static str, value: String) -> Result<usize, OptionsError> {
    match value.parse::<usize>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(OptionsError::BadValue {
            flag,
            expected: "a positive whole number",
            value,
        }),
    }
}

fn seconds(
    flag: &'static str,
    value: String,
    zero_allowed: bool,
) -> Result<Duration, OptionsError> {
    match value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
    {
        Some(duration) if zero_allowed || !duration.is_zero() => Ok(duration),
        _ => Err(OptionsError::BadValue {
            flag,
            expected: if zero_allowed {
                "a number of seconds, 0 or more"
            } else {
                "a positive number of seconds"
            },
            value,
        }),
    }
}

fn positive_rate(value: String) -> Result<f64, OptionsError> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(OptionsError::BadValue {
            flag: "--rate",
            expected: "a positive number of requests per second",
            value,
        }),
    }
}

fn header(value: String) -> Result<(String, String), OptionsError> {
    match value.split_once(':') {
        Some((name, field)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), field.trim().to_owned()))
        }
        _ => Err(OptionsError::BadValue {
            flag: "--header",
            expected: "`NAME: VALUE`",
            value,
        }),
    }
}
