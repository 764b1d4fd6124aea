//! `cargo xtask bench`: criterion benches of one crate or of the whole workspace.

use std::path::Path;

use xshell::{Shell, cmd};

/// Runs `cargo bench` for `package` (the whole workspace when `None`), passing `criterion_args`
/// through to criterion after `--`.
pub(crate) fn run(
    root: &Path,
    package: Option<&str>,
    criterion_args: &[String],
) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let selection: Vec<&str> = match package {
        Some(package) => vec!["--package", package],
        None => vec!["--workspace"],
    };
    // Only pass `--` when there is something after it, so the echoed command stays the one a
    // person would type.
    let separator: &[&str] = if criterion_args.is_empty() {
        &[]
    } else {
        &["--"]
    };
    cmd!(
        sh,
        "cargo bench {selection...} {separator...} {criterion_args...}"
    )
    .run()?;
    Ok(())
}
