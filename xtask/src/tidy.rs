//! `cargo xtask tidy`: the conventions every workspace member follows, checked.
//!
//! Each member package must
//! - inherit the workspace lints (`[lints] workspace = true`), because lint inheritance is opt-in;
//! - describe itself (`package.description`), so `cargo metadata` and registries say what it is for;
//! - ship a `README.md` beside its manifest (crates under `crates/` and `xtask`);
//! - open its crate root (`src/lib.rs`, `src/main.rs`, or for a package with only test or bench
//!   targets, their entry files) with `//!` docs;
//! - live in a folder named like the package (crates under `crates/` and `xtask`), so `ls crates` is the map.
//!
//! The checks are pure functions over manifest text and a file reader, so they are tested without
//! touching the disk; only [`run`] and [`members`] look at the real workspace.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use toml::{Table, Value};

#[cfg(test)]
mod tests;

/// Checks every workspace member, prints each violation and fails if there is any.
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let members = members(root)?;
    let read = |path: &Path| std::fs::read_to_string(root.join(path)).ok();
    let violations: Vec<Violation> = members
        .iter()
        .flat_map(|member| check_member(member, &read))
        .collect();
    if violations.is_empty() {
        println!("tidy: {} packages checked, all tidy", members.len());
        return Ok(());
    }
    for violation in &violations {
        println!("{violation}");
    }
    bail!(
        "tidy: {} problem(s) in {} package(s) checked",
        violations.len(),
        members.len()
    )
}

/// Where a member package sits, which decides the rules that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A library or binary under `crates/`.
    Crate,
    /// The `xtask` automation binary.
    Xtask,
    /// The cross-crate integration suite in `tests/`.
    Tests,
    /// The cross-crate benches in `benches/`.
    Benches,
}

impl Kind {
    /// Whether the package must have a `README.md`.
    /// The suite and bench packages are described by the repository docs instead.
    fn needs_readme(self) -> bool {
        matches!(self, Self::Crate | Self::Xtask)
    }

    /// Whether the folder must be named like the package.
    /// `tests/` and `benches/` hold `orkestra-tests` and `orkestra-benches`, named for their role.
    fn folder_is_package_name(self) -> bool {
        matches!(self, Self::Crate | Self::Xtask)
    }
}

/// A workspace member package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// Its folder, relative to the workspace root.
    pub(crate) dir: PathBuf,
    /// Which rules apply.
    pub(crate) kind: Kind,
}

/// One broken convention: the file it is about and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The file to fix (or that is missing), relative to the workspace root.
    pub(crate) path: PathBuf,
    /// What is missing or wrong.
    pub(crate) problem: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

/// Lists the member packages: every folder under `crates/`, plus `xtask/`, `tests/` and `benches/`
/// when they hold a manifest. Paths are relative to `root`.
pub(crate) fn members(root: &Path) -> anyhow::Result<Vec<Member>> {
    let crates = root.join("crates");
    let mut members = Vec::new();
    for entry in
        std::fs::read_dir(&crates).with_context(|| format!("reading {}", crates.display()))?
    {
        let entry = entry.with_context(|| format!("reading {}", crates.display()))?;
        let name = entry.file_name();
        // Cargo's `crates/*` glob makes every folder a member, so each one is checked, even one
        // without a manifest; hidden folders are editor or tool state, not packages.
        if entry.file_type()?.is_dir() && !name.to_string_lossy().starts_with('.') {
            members.push(Member {
                dir: Path::new("crates").join(name),
                kind: Kind::Crate,
            });
        }
    }
    members.sort_by(|a, b| a.dir.cmp(&b.dir));
    for (folder, kind) in [
        ("xtask", Kind::Xtask),
        ("tests", Kind::Tests),
        ("benches", Kind::Benches),
    ] {
        if root.join(folder).join("Cargo.toml").is_file() {
            members.push(Member {
                dir: PathBuf::from(folder),
                kind,
            });
        }
    }
    Ok(members)
}

/// Checks one member. `read` returns a file's text by its path relative to the workspace root,
/// or `None` when it does not exist.
pub(crate) fn check_member(
    member: &Member,
    read: &dyn Fn(&Path) -> Option<String>,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut report = |path: PathBuf, problem: String| violations.push(Violation { path, problem });

    let manifest_path = member.dir.join("Cargo.toml");
    let Some(text) = read(&manifest_path) else {
        report(
            manifest_path,
            "missing: every member needs a manifest".to_owned(),
        );
        return violations;
    };
    let manifest: Table = match text.parse() {
        Ok(manifest) => manifest,
        Err(error) => {
            report(manifest_path, format!("not valid TOML: {error}"));
            return violations;
        }
    };
    let Some(package) = manifest.get("package").and_then(Value::as_table) else {
        report(manifest_path, "missing a `[package]` table".to_owned());
        return violations;
    };

    if let Some(problem) = description_problem(package) {
        report(manifest_path.clone(), problem);
    }
    if let Some(problem) = lints_problem(&manifest) {
        report(manifest_path.clone(), problem);
    }
    if member.kind.folder_is_package_name()
        && let Some(problem) = folder_name_problem(&member.dir, package)
    {
        report(manifest_path.clone(), problem);
    }

    let readme = member.dir.join("README.md");
    if member.kind.needs_readme() && read(&readme).is_none() {
        report(
            readme,
            "missing: every crate explains itself in a README.md beside its manifest".to_owned(),
        );
    }

    let exists = |relative: &str| read(&member.dir.join(relative)).is_some();
    let roots = crate_roots(&manifest, &exists);
    if roots.is_empty() {
        report(
            manifest_path,
            "no crate root: expected `src/lib.rs`, `src/main.rs`, or a `[[test]]`/`[[bench]]` target"
                .to_owned(),
        );
    }
    for root in roots {
        let path = member.dir.join(root);
        match read(&path) {
            None => report(
                path,
                "missing: the manifest names it as a crate root".to_owned(),
            ),
            Some(source) if !opens_with_inner_doc(&source) => report(
                path,
                "does not open with a `//!` doc comment saying what the crate is for".to_owned(),
            ),
            Some(_) => {}
        }
    }
    violations
}

/// What is wrong with `package.description`, if anything.
pub(crate) fn description_problem(package: &Table) -> Option<String> {
    match package.get("description") {
        None => Some("missing `description` in `[package]`".to_owned()),
        Some(Value::String(text)) if text.trim().is_empty() => {
            Some("`description` in `[package]` is empty".to_owned())
        }
        Some(Value::String(_)) => None,
        // The workspace has no description to inherit: each crate says what it is for.
        Some(_) => Some("`description` in `[package]` must be the crate's own string".to_owned()),
    }
}

/// What is wrong with the `[lints]` table, if anything.
pub(crate) fn lints_problem(manifest: &Table) -> Option<String> {
    let Some(lints) = manifest.get("lints") else {
        return Some(
            "missing `[lints]` with `workspace = true` (lint inheritance is opt-in)".to_owned(),
        );
    };
    let inherits = lints
        .as_table()
        .and_then(|lints| lints.get("workspace"))
        .and_then(Value::as_bool)
        == Some(true);
    (!inherits).then(|| "`[lints]` must say `workspace = true`".to_owned())
}

/// What is wrong with the folder name, if anything.
fn folder_name_problem(dir: &Path, package: &Table) -> Option<String> {
    let Some(name) = package.get("name").and_then(Value::as_str) else {
        return Some("missing `name` in `[package]`".to_owned());
    };
    let folder = dir.file_name()?.to_string_lossy();
    (folder != name).then(|| {
        format!(
            "package `{name}` lives in folder `{folder}`; the folder must be named like the package"
        )
    })
}

/// The files whose opening docs describe the package, relative to its folder.
///
/// The library and binary roots when there are any; otherwise, for a package made only of test or bench
/// targets (the integration suite, the cross-crate benches), each target's entry file.
/// `exists` tells whether a file relative to the package folder exists, for the targets Cargo finds by
/// convention.
pub(crate) fn crate_roots(manifest: &Table, exists: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut roots = Vec::new();

    match manifest
        .get("lib")
        .and_then(|lib| lib.get("path"))
        .and_then(Value::as_str)
    {
        Some(path) => push_unique(&mut roots, path.to_owned()),
        None if exists("src/lib.rs") => push_unique(&mut roots, "src/lib.rs".to_owned()),
        None => {}
    }
    for path in target_paths(manifest, "bin") {
        push_unique(&mut roots, path.to_owned());
    }
    if exists("src/main.rs") {
        push_unique(&mut roots, "src/main.rs".to_owned());
    }
    if !roots.is_empty() {
        return roots;
    }

    for (kind, folder) in [("test", "tests"), ("bench", "benches")] {
        for target in targets(manifest, kind) {
            if let Some(path) = target.get("path").and_then(Value::as_str) {
                push_unique(&mut roots, path.to_owned());
            } else if let Some(name) = target.get("name").and_then(Value::as_str) {
                // Cargo's default places for a named target, in the order it looks.
                let single = format!("{folder}/{name}.rs");
                let directory = format!("{folder}/{name}/main.rs");
                push_unique(
                    &mut roots,
                    if exists(&single) || !exists(&directory) {
                        single
                    } else {
                        directory
                    },
                );
            }
        }
    }
    roots
}

/// Adds `root` unless it is already listed, since `src/main.rs` may also be named by a `[[bin]]`.
fn push_unique(roots: &mut Vec<String>, root: String) {
    if !roots.contains(&root) {
        roots.push(root);
    }
}

/// The `[[kind]]` target tables of a manifest.
fn targets<'a>(manifest: &'a Table, kind: &str) -> impl Iterator<Item = &'a Table> {
    manifest
        .get(kind)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_table)
}

/// The explicit `path`s of the `[[kind]]` targets of a manifest.
fn target_paths<'a>(manifest: &'a Table, kind: &str) -> impl Iterator<Item = &'a str> {
    targets(manifest, kind).filter_map(|target| target.get("path").and_then(Value::as_str))
}

/// Whether the first non-blank line of `source` is a `//!` inner doc comment.
pub(crate) fn opens_with_inner_doc(source: &str) -> bool {
    source
        .lines()
        .find(|line| !line.trim().is_empty())
        .is_some_and(|line| line.trim_start().starts_with("//!"))
}
