use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Kind, Member, check_member, opens_with_inner_doc};

const GOOD_MANIFEST: &str = r#"
[package]
name = "orkestra-widgets"
description = "Widgets for orkestra."
version.workspace = true

[lints]
workspace = true
"#;

const GOOD_LIB: &str = "//! Widgets for orkestra.\n\npub fn widget() {}\n";

/// Checks the member at `dir` against an in-memory workspace made of `files` (path, text) and compares
/// the violations, rendered as `cargo xtask tidy` prints them.
#[track_caller]
fn check(dir: &str, kind: Kind, files: &[(&str, &str)], expected: &[&str]) {
    let files: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(path, text)| (PathBuf::from(path), (*text).to_owned()))
        .collect();
    let read = |path: &Path| files.get(path).cloned();
    let member = Member {
        dir: PathBuf::from(dir),
        kind,
    };
    let violations: Vec<String> = check_member(&member, &read)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(violations, expected);
}

#[test]
fn a_tidy_crate_passes() {
    check(
        "crates/orkestra-widgets",
        Kind::Crate,
        &[
            ("crates/orkestra-widgets/Cargo.toml", GOOD_MANIFEST),
            ("crates/orkestra-widgets/README.md", "# orkestra-widgets\n"),
            ("crates/orkestra-widgets/src/lib.rs", GOOD_LIB),
        ],
        &[],
    );
}

#[test]
fn a_manifest_without_lints_fails() {
    let manifest = GOOD_MANIFEST.replace("[lints]\nworkspace = true\n", "");
    check(
        "crates/orkestra-widgets",
        Kind::Crate,
        &[
            ("crates/orkestra-widgets/Cargo.toml", &manifest),
            ("crates/orkestra-widgets/README.md", "# orkestra-widgets\n"),
            ("crates/orkestra-widgets/src/lib.rs", GOOD_LIB),
        ],
        &[
            "crates/orkestra-widgets/Cargo.toml: missing `[lints]` with `workspace = true` (lint inheritance is opt-in)",
        ],
    );
}

#[test]
fn lints_of_its_own_instead_of_the_workspace_ones_fail() {
    let manifest = GOOD_MANIFEST.replace(
        "[lints]\nworkspace = true\n",
        "[lints.rust]\nunsafe_code = \"allow\"\n",
    );
    check(
        "crates/orkestra-widgets",
        Kind::Crate,
        &[
            ("crates/orkestra-widgets/Cargo.toml", &manifest),
            ("crates/orkestra-widgets/README.md", "# orkestra-widgets\n"),
            ("crates/orkestra-widgets/src/lib.rs", GOOD_LIB),
        ],
        &["crates/orkestra-widgets/Cargo.toml: `[lints]` must say `workspace = true`"],
    );
}

#[test]
fn a_missing_or_empty_description_fails() {
    let missing = GOOD_MANIFEST.replace("description = \"Widgets for orkestra.\"\n", "");
    let empty = GOOD_MANIFEST.replace("Widgets for orkestra.", "  ");
    let inherited = GOOD_MANIFEST.replace(
        "description = \"Widgets for orkestra.\"",
        "description.workspace = true",
    );
    for (manifest, problem) in [
        (missing, "missing `description` in `[package]`"),
        (empty, "`description` in `[package]` is empty"),
        (
            inherited,
            "`description` in `[package]` must be the crate's own string",
        ),
    ] {
        check(
            "crates/orkestra-widgets",
            Kind::Crate,
            &[
                ("crates/orkestra-widgets/Cargo.toml", &manifest),
                ("crates/orkestra-widgets/README.md", "# orkestra-widgets\n"),
                ("crates/orkestra-widgets/src/lib.rs", GOOD_LIB),
            ],
            &[&format!("crates/orkestra-widgets/Cargo.toml: {problem}")],
        );
    }
}

#[test]
fn a_lib_rs_without_crate_docs_fails() {
    check(
        "crates/orkestra-widgets",
        Kind::Crate,
        &[
            ("crates/orkestra-widgets/Cargo.toml", GOOD_MANIFEST),
            ("crates/orkestra-widgets/README.md", "# orkestra-widgets\n"),
            (
                "crates/orkestra-widgets/src/lib.rs",
                "/// An item doc is not a crate doc.\npub fn widget() {}\n",
            ),
        ],
        &[
            "crates/orkestra-widgets/src/lib.rs: does not open with a `//!` doc comment saying what the crate is for",
        ],
    );
}

#[test]
fn a_crate_without_readme_fails() {
    check(
        "crates/orkestra-widgets",
        Kind::Crate,
        &[
            ("crates/orkestra-widgets/Cargo.toml", GOOD_MANIFEST),
            ("crates/orkestra-widgets/src/lib.rs", GOOD_LIB),
        ],
        &[
            "crates/orkestra-widgets/README.md: missing: every crate explains itself in a README.md beside its manifest",
        ],
    );
}

#[test]
fn a_folder_named_unlike_its_package_fails() {
    check(
        "crates/widgets",
        Kind::Crate,
        &[
            ("crates/widgets/Cargo.toml", GOOD_MANIFEST),
            ("crates/widgets/README.md", "# orkestra-widgets\n"),
            ("crates/widgets/src/lib.rs", GOOD_LIB),
        ],
        &[
            "crates/widgets/Cargo.toml: package `orkestra-widgets` lives in folder `widgets`; the folder must be named like the package",
        ],
    );
}

#[test]
fn every_problem_of_a_member_is_reported_at_once() {
    check(
        "crates/orkestra-widgets",
        Kind::Crate,
        &[
            (
                "crates/orkestra-widgets/Cargo.toml",
                "[package]\nname = \"orkestra-widgets\"\n",
            ),
            ("crates/orkestra-widgets/src/lib.rs", "pub fn widget() {}\n"),
            ("crates/orkestra-widgets/src/main.rs", GOOD_LIB),
        ],
        &[
            "crates/orkestra-widgets/Cargo.toml: missing `description` in `[package]`",
            "crates/orkestra-widgets/Cargo.toml: missing `[lints]` with `workspace = true` (lint inheritance is opt-in)",
            "crates/orkestra-widgets/README.md: missing: every crate explains itself in a README.md beside its manifest",
            "crates/orkestra-widgets/src/lib.rs: does not open with a `//!` doc comment saying what the crate is for",
        ],
    );
}

#[test]
fn a_missing_or_broken_manifest_is_reported() {
    check(
        "crates/orkestra-widgets",
        Kind::Crate,
        &[],
        &["crates/orkestra-widgets/Cargo.toml: missing: every member needs a manifest"],
    );
    let broken = [(
        "crates/orkestra-widgets/Cargo.toml",
        "[package\nname = \"orkestra-widgets\"\n",
    )];
    let member = Member {
        dir: PathBuf::from("crates/orkestra-widgets"),
        kind: Kind::Crate,
    };
    let read = |path: &Path| {
        broken
            .iter()
            .find(|(known, _)| Path::new(known) == path)
            .map(|(_, text)| (*text).to_owned())
    };
    let violations = check_member(&member, &read);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].problem.starts_with("not valid TOML"),
        "{violations:?}"
    );
}

#[test]
fn a_test_only_package_is_checked_through_its_test_entry_file() {
    let manifest = r#"
[package]
name = "orkestra-tests"
description = "The cross-crate integration suite."
autotests = false

[lints]
workspace = true

[[test]]
name = "it"
path = "it/main.rs"
"#;
    // No README and a folder named for its role are fine for the suite.
    check(
        "tests",
        Kind::Tests,
        &[
            ("tests/Cargo.toml", manifest),
            (
                "tests/it/main.rs",
                "//! The integration suite.\n\nmod resilience;\n",
            ),
        ],
        &[],
    );
    check(
        "tests",
        Kind::Tests,
        &[
            ("tests/Cargo.toml", manifest),
            ("tests/it/main.rs", "mod resilience;\n"),
        ],
        &["tests/it/main.rs: does not open with a `//!` doc comment saying what the crate is for"],
    );
    check(
        "tests",
        Kind::Tests,
        &[("tests/Cargo.toml", manifest)],
        &["tests/it/main.rs: missing: the manifest names it as a crate root"],
    );
}

#[test]
fn a_test_target_without_path_is_found_where_cargo_looks() {
    let manifest = r#"
[package]
name = "orkestra-tests"
description = "The cross-crate integration suite."

[lints]
workspace = true

[[test]]
name = "it"
"#;
    check(
        "tests",
        Kind::Tests,
        &[
            ("tests/Cargo.toml", manifest),
            ("tests/tests/it/main.rs", "mod resilience;\n"),
        ],
        &[
            "tests/tests/it/main.rs: does not open with a `//!` doc comment saying what the crate is for",
        ],
    );
}

#[test]
fn a_package_without_any_target_is_reported() {
    check(
        "benches",
        Kind::Benches,
        &[("benches/Cargo.toml", GOOD_MANIFEST)],
        &[
            "benches/Cargo.toml: no crate root: expected `src/lib.rs`, `src/main.rs`, or a `[[test]]`/`[[bench]]` target",
        ],
    );
}

#[test]
fn crate_docs_may_follow_blank_lines_but_nothing_else() {
    assert!(opens_with_inner_doc("//! Docs.\n"));
    assert!(opens_with_inner_doc("\n\n  //! Docs.\n"));
    assert!(!opens_with_inner_doc(""));
    assert!(!opens_with_inner_doc(
        "#![allow(missing_docs)]\n//! Docs.\n"
    ));
    assert!(!opens_with_inner_doc("// A plain comment.\n//! Docs.\n"));
    assert!(!opens_with_inner_doc("/// Item docs.\nfn f() {}\n"));
}
