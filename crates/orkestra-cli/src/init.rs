//! `orkestra init`: a commented starting configuration.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, anyhow};

use crate::cli::InitArgs;
use crate::failure::Failure;

/// The example configuration: every section with its defaults, explained.
pub(crate) const EXAMPLE: &str = include_str!("init.toml");

/// Writes the example configuration.
pub(crate) fn run(args: &InitArgs) -> Result<(), Failure> {
    write(&args.output, args.force)?;
    println!("wrote {}", args.output.display());
    println!(
        "next: edit it, then `orkestra serve --config {}`",
        args.output.display()
    );
    Ok(())
}

/// Writes [`EXAMPLE`] to `path`; an existing file is an error (exit 2) unless `force`.
pub(crate) fn write(path: &Path, force: bool) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // Creating exclusively refuses an existing file without a race between check and write.
        options.create_new(true);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Failure::usage(anyhow!(
                "{} already exists; pass --force to overwrite it",
                path.display()
            )));
        }
        Err(error) => {
            return Err(Failure::runtime(
                anyhow::Error::new(error).context(format!("cannot write {}", path.display())),
            ));
        }
    };
    file.write_all(EXAMPLE.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
