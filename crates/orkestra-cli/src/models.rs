//! `orkestra models list | export | import`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use orkestra::models::Catalog;
use orkestra::models::catalog::{Format, litellm};

use crate::cli::{
    CatalogFormat, ModelsCommand, ModelsExportArgs, ModelsImportArgs, ModelsListArgs,
};
use crate::failure::Failure;
use crate::setup::{self, Source};

/// The most skipped entries printed one by one; the rest are counted.
const SKIPPED_SHOWN: usize = 20;

/// Runs one `models` subcommand.
pub(crate) fn run(command: &ModelsCommand) -> Result<(), Failure> {
    match command {
        ModelsCommand::List(args) => list(args),
        ModelsCommand::Export(args) => export(args),
        ModelsCommand::Import(args) => import(args),
    }
}

/// The configuration's models as a catalog, with the name of the configuration.
fn configured(config: Option<&Path>) -> Result<(Catalog, Source), Failure> {
    let setup::Loaded { mut config, source } = setup::load(config)?;
    setup::without_simulators(&mut config, &source)?;
    let orchestrator = setup::orchestrator_without_store(&config, &source)?;
    Ok((
        Catalog::from_registry(&orchestrator.registry().snapshot()),
        source,
    ))
}

fn list(args: &ModelsListArgs) -> Result<(), Failure> {
    let (catalog, _) = configured(args.config.config.as_deref())?;
    if args.json {
        let rows: Vec<serde_json::Value> = catalog
            .models
            .iter()
            .map(|spec| {
                serde_json::json!({
                    "id": spec.id.as_str(),
                    "endpoint": spec.endpoint(),
                    "aliases": spec.aliases,
                    "context_window": spec.context_window,
                    "max_output_tokens": spec.max_output_tokens,
                    "input_usd_per_mtok": spec.input_price.usd_per_million(),
                    "output_usd_per_mtok": spec.output_price.usd_per_million(),
                    "deployment": spec.deployment,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", table(&catalog));
    }
    Ok(())
}

/// One row per model; prices in dollars per million tokens.
pub(crate) fn table(catalog: &Catalog) -> String {
    let width = catalog
        .models
        .iter()
        .map(|spec| spec.id.as_str().len())
        .chain([2])
        .max()
        .unwrap_or(2);
    let mut out = format!(
        "{:<width$}  {:<12}  {:>9}  {:>10}  {:>10}  {}\n",
        "ID", "ENDPOINT", "CONTEXT", "IN $/MTOK", "OUT $/MTOK", "DEPLOYMENT"
    );
    for spec in &catalog.models {
        let _ = writeln!(
            out,
            "{:<width$}  {:<12}  {:>9}  {:>10.2}  {:>10.2}  {}",
            spec.id.as_str(),
            spec.endpoint(),
            spec.context_window,
            spec.input_price.usd_per_million(),
            spec.output_price.usd_per_million(),
            if spec.is_local() { "local" } else { "cloud" },
        );
    }
    out
}

fn export(args: &ModelsExportArgs) -> Result<(), Failure> {
    let (catalog, _) = configured(args.config.config.as_deref())?;
    let format = match (args.format, &args.output) {
        (Some(format), _) => format,
        (None, Some(path)) => match Format::from_path(path).map_err(Failure::usage)? {
            Format::Json => CatalogFormat::Json,
            Format::Toml => CatalogFormat::Toml,
        },
        (None, None) => CatalogFormat::Json,
    };
    let text = render(&catalog, format)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote {} models to {}",
                catalog.models.len(),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// The catalog as the text of `format`.
pub(crate) fn render(catalog: &Catalog, format: CatalogFormat) -> Result<String, Failure> {
    Ok(match format {
        CatalogFormat::Json => catalog.to_json(),
        CatalogFormat::Toml => catalog.to_toml()?,
    })
}

fn import(args: &ModelsImportArgs) -> Result<(), Failure> {
    let catalog = if args.litellm {
        let imported = litellm::import_file(&args.file).map_err(Failure::usage)?;
        eprint!("{}", import_summary(&args.file, &imported));
        imported.into_catalog()
    } else {
        let catalog = Catalog::load(&args.file).map_err(Failure::usage)?;
        eprintln!(
            "{}: {} models, valid",
            args.file.display(),
            catalog.models.len()
        );
        catalog
    };
    match &args.output {
        Some(path) => {
            catalog.save(path).map_err(Failure::usage)?;
            eprintln!(
                "wrote {} models to {}",
                catalog.models.len(),
                path.display()
            );
        }
        None if args.litellm => print!("{}", render(&catalog, CatalogFormat::Toml)?),
        None => {}
    }
    Ok(())
}

/// What a LiteLLM import kept and what it left out, and why.
fn import_summary(file: &Path, imported: &litellm::LiteLlmImport) -> String {
    let skipped = &imported.skipped;
    let mut out = format!(
        "{}: imported {} chat models, skipped {} entries\n",
        file.display(),
        imported.models.len(),
        skipped.total()
    );
    for (mode, count) in &skipped.by_mode {
        let _ = writeln!(out, "  skipped {count} `{mode}` entries (not chat)");
    }
    for entry in skipped.unusable.iter().take(SKIPPED_SHOWN) {
        let _ = writeln!(out, "  skipped {}: {}", entry.key, entry.reason);
    }
    if skipped.unusable.len() > SKIPPED_SHOWN {
        let _ = writeln!(
            out,
            "  ... and {} more unusable entries",
            skipped.unusable.len() - SKIPPED_SHOWN
        );
    }
    out
}
