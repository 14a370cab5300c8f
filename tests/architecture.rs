//! The crate boundaries of docs/architecture.md, enforced: every dependency edge between
//! nsflow's own crates, as `cargo metadata` reads the manifests, must be one the
//! architecture allows. A new edge fails here until the document (and this table) say why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_tests::workspace_root;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

/// `(crate, dependency kind, dependency)` edges the architecture allows. Kinds are cargo's:
/// "normal" (including optional ones, marked by the feature that enables them), "dev".
const ALLOWED: &[(&str, &str, &str)] = &[
    // The device-access library: the contract, and the model only behind `sim`.
    ("nsflow-driver", "normal", "nsflow-rtl"),
    ("nsflow-driver", "optional", "nsflow-hwsim"),
    // The model and the exporter build on the contract alone.
    ("nsflow-hwsim", "normal", "nsflow-rtl"),
    ("nsflow-hwsim", "dev", "nsflow-testkit"),
    ("nsflow-exporter", "normal", "nsflow-rtl"),
    // Test support: never a normal dependency of a library.
    ("nsflow-testkit", "normal", "nsflow-rtl"),
    ("nsflow-testkit", "normal", "nsflow-hwsim"),
    // The application uses every library.
    ("nsflow", "normal", "nsflow-rtl"),
    ("nsflow", "normal", "nsflow-hwsim"),
    ("nsflow", "normal", "nsflow-driver"),
    ("nsflow", "normal", "nsflow-exporter"),
    // The end-to-end tests may use everything.
    ("nsflow-tests", "normal", "nsflow-rtl"),
    ("nsflow-tests", "normal", "nsflow-hwsim"),
    ("nsflow-tests", "normal", "nsflow-testkit"),
    ("nsflow-tests", "dev", "nsflow"),
    ("nsflow-tests", "dev", "nsflow-driver"),
    ("nsflow-tests", "dev", "nsflow-exporter"),
];

/// Every edge between nsflow crates the manifests declare.
fn edges() -> BTreeSet<(String, String, String)> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut set = BTreeSet::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        for dep in pkg["dependencies"].as_array().unwrap() {
            let to = dep["name"].as_str().unwrap();
            if to != "nsflow" && !to.starts_with("nsflow-") {
                continue;
            }
            let kind = match (dep["kind"].as_str(), dep["optional"].as_bool()) {
                (Some("dev"), _) => "dev",
                (_, Some(true)) => "optional",
                _ => "normal",
            };
            set.insert((name.to_owned(), kind.to_owned(), to.to_owned()));
        }
    }
    set
}

#[test]
fn every_dependency_between_nsflow_crates_is_one_the_architecture_allows() {
    let allowed: BTreeSet<(String, String, String)> = ALLOWED
        .iter()
        .map(|(a, k, b)| ((*a).to_owned(), (*k).to_owned(), (*b).to_owned()))
        .collect();
    let found = edges();
    let forbidden: Vec<_> = found.difference(&allowed).collect();
    assert!(
        forbidden.is_empty(),
        "dependencies docs/architecture.md does not allow: {forbidden:?}"
    );
    // The rule that matters most, stated on its own: the contract depends on no nsflow
    // crate, and no library depends on test support or on the application.
    for (from, kind, to) in &found {
        assert_ne!(from, "nsflow-rtl", "the contract depends on {to}");
        if to == "nsflow-testkit" {
            assert!(
                kind == "dev" || from == "nsflow-tests",
                "{from} depends on test support"
            );
        }
        if to == "nsflow" {
            assert_eq!(from, "nsflow-tests", "{from} depends on the application");
        }
    }
}

#[test]
fn the_device_library_builds_without_the_simulator() {
    // `cargo tree` of the driver without its default features: no model, no capture
    // reader, no waveform writer in a build for real hardware.
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "nsflow-driver",
            "--no-default-features",
            "--offline",
            "--prefix",
            "none",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("nsflow-rtl"), "{tree}");
    for banned in ["nsflow-hwsim", "pcap-file", "vcd "] {
        assert!(
            !tree.contains(banned),
            "{banned} in a build without sim:\n{tree}"
        );
    }
}
