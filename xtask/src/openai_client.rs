//! The `openai-python` CI step: the official `openai` Python client, unchanged, against a
//! running `orkestra serve`.
//!
//! Makes sure `import openai` works (installing the package with pip when it does not), builds
//! the `orkestra` binary, starts it on a free loopback port with the demo configuration but an
//! in-memory store, reads the address from its first line, runs
//! `tests/python/test_openai_client.py` with `ORKESTRA_BASE_URL` pointing at it, and stops the
//! server however the script ends.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, bail};
use xshell::{Shell, cmd};

/// The script, relative to the workspace root.
const SCRIPT: &str = "tests/python/test_openai_client.py";

/// The demo configuration the gateway is started with.
const DEMO: &str = "crates/orkestra-cli/src/demo.toml";

/// The environment variable the script reads the base URL from.
const BASE_URL_VAR: &str = "ORKESTRA_BASE_URL";

/// Runs the step.
pub(crate) fn run(sh: &Shell, root: &Path) -> anyhow::Result<()> {
    ensure_openai(sh)?;
    cmd!(sh, "cargo build --locked -p orkestra-cli").run()?;

    let dir = root.join("target/openai-python");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let demo =
        std::fs::read_to_string(root.join(DEMO)).with_context(|| format!("cannot read {DEMO}"))?;
    let config = dir.join("orkestra.toml");
    std::fs::write(&config, test_config(&demo)?)
        .with_context(|| format!("cannot write {}", config.display()))?;

    let binary = root.join("target/debug/orkestra");
    let mut child = Command::new(&binary)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let stdout = child
        .stdout
        .take()
        .context("the gateway's stdout is not captured")?;
    let server = Server(child);
    let mut lines = BufReader::new(stdout);
    let mut first = String::new();
    lines
        .read_line(&mut first)
        .context("cannot read the gateway's address")?;
    let base = listening_address(&first)?;
    // The rest of standard output (the summary) is drained so the gateway never blocks on a
    // full pipe.
    std::thread::spawn(move || lines.lines().for_each(drop));

    let base_url = format!("{base}/v1");
    println!("gateway at {base_url}");
    let result = cmd!(sh, "python3 {SCRIPT}")
        .env(BASE_URL_VAR, &base_url)
        .run();
    drop(server);
    result.context("the openai client checks failed")?;
    Ok(())
}

/// `import openai` works, or is made to work with pip.
fn ensure_openai(sh: &Shell) -> anyhow::Result<()> {
    let importable = || {
        cmd!(sh, "python3 -c 'import openai'")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_ok()
    };
    if cmd!(sh, "python3 --version").quiet().read().is_err() {
        bail!(
            "python3 is not installed; install Python 3 (for example `apt-get install -y python3 python3-pip`) and run again"
        );
    }
    if importable() {
        return Ok(());
    }
    println!(
        "the `openai` Python package is missing; installing it: python3 -m pip install --quiet openai"
    );
    let installed = cmd!(sh, "python3 -m pip install --quiet openai").run();
    if installed.is_err() || !importable() {
        bail!(
            "cannot install the `openai` Python package with pip; install it with `python3 -m pip install openai` \
             (or `pip install --user openai`, or in a virtual environment) and run again"
        );
    }
    Ok(())
}

/// The demo configuration with an in-memory store and a free port, so runs leave nothing behind
/// and never collide.
pub(crate) fn test_config(demo: &str) -> anyhow::Result<String> {
    let mut config: toml::Table = demo.parse().context("the demo configuration is not TOML")?;
    for (section, key, value) in [
        ("storage", "url", "sqlite::memory:"),
        ("server", "listen", "127.0.0.1:0"),
    ] {
        config
            .entry(section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .with_context(|| format!("`{section}` in the demo configuration is not a table"))?
            .insert(key.to_owned(), value.into());
    }
    Ok(config.to_string())
}

/// The base URL in the gateway's first line, `listening on http://ADDR`.
pub(crate) fn listening_address(line: &str) -> anyhow::Result<&str> {
    line.trim()
        .strip_prefix("listening on ")
        .filter(|url| url.starts_with("http://"))
        .with_context(|| format!("unexpected first line from the gateway: {line:?}"))
}

/// Stops the gateway when the step ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests;
