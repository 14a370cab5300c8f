//! CI fuzz smoke (issue 7): every cargo-fuzz target of `tests/fuzz/` runs briefly from its
//! committed seed corpus, through `tests/fuzz/ci-smoke.sh`, as part of `cargo test`.
//!
//! `FUZZ_SECONDS` (default 20) sets the seconds per target. Without `cargo fuzz` the
//! test is skipped locally and fails under `CI=true` (`.ci/run` installs cargo-fuzz).
//! The first build of the fuzz targets (about 100 s on 2 cores) goes to cargo-fuzz's own
//! target directory, `tests/fuzz/target/`, not to the workspace's.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_tests::{require, workspace_root};
use std::process::{Command, Output};

/// The targets of `tests/fuzz/Cargo.toml`, as `ci-smoke.sh` runs them.
const TARGETS: [&str; 8] = [
    "parser",
    "vrp_config",
    "flow_decoder",
    "record",
    "ring",
    "device_bus",
    "vfio_user_server",
    "vfio_user_client",
];

/// Seconds per target unless `FUZZ_SECONDS` says otherwise.
const DEFAULT_SECONDS: u32 = 20;

/// Whether an environment variable of the outer `cargo test` must not reach the nested
/// cargo that builds the fuzz targets:
/// * `CARGO_TARGET_DIR`, `CARGO_BUILD_TARGET_DIR`: the fuzz build would share (and lock,
///   and fill with sanitizer builds of) the workspace's target directory instead of
///   using `tests/fuzz/target/`;
/// * `CARGO_ENCODED_RUSTFLAGS`: cargo prefers it to `RUSTFLAGS`, so it would replace the
///   sancov and sanitizer flags that cargo-fuzz passes in `RUSTFLAGS`;
/// * `RUSTFLAGS`: cargo-fuzz appends it to its own flags, so flags meant for the
///   workspace build would go into the fuzz build;
/// * the other `CARGO_BUILD_*` (target, rustflags, rustc wrapper, ...) and
///   `CARGO_PROFILE_*`: build settings of the workspace build, not of the fuzz build.
///   `CARGO_BUILD_JOBS` is kept: it only limits parallelism.
fn leaks_into_fuzz_build(name: &str) -> bool {
    matches!(
        name,
        "CARGO_TARGET_DIR" | "CARGO_ENCODED_RUSTFLAGS" | "RUSTFLAGS"
    ) || (name.starts_with("CARGO_BUILD_") && name != "CARGO_BUILD_JOBS")
        || name.starts_with("CARGO_PROFILE_")
}

/// A command run from the workspace root, with the environment of this test minus the
/// variables that [`leaks_into_fuzz_build`] names.
fn clean_command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(leaks_into_fuzz_build) {
            cmd.env_remove(&name);
        }
    }
    cmd.current_dir(workspace_root());
    cmd
}

/// Returns true when `cargo fuzz` runs. When it does not: under `CI=true` this panics;
/// elsewhere it prints why the test is skipped and returns false (`require_tool` policy;
/// `cargo fuzz` is a cargo subcommand, not a program `require_tool` can look for).
fn require_cargo_fuzz() -> bool {
    let present = clean_command("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    require(
        present,
        "cargo-fuzz",
        "not installed (`cargo fuzz --version` failed)",
        ".ci/run installs it: cargo install cargo-fuzz --locked --version 0.13.2",
    )
}

/// `N` of the script's line `fuzz smoke TARGET: ok, Done N runs`, if there is one.
fn runs_of(stdout: &str, target: &str) -> Option<u64> {
    let prefix = format!("fuzz smoke {target}: ok, Done ");
    stdout.lines().find_map(|line| {
        line.strip_prefix(&prefix)?
            .strip_suffix(" runs")?
            .parse()
            .ok()
    })
}

/// The script's output for a failure message: stdout whole, the end of stderr (the
/// build log and the failing target's log tail).
fn describe(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = lines[lines.len().saturating_sub(60)..].join("\n");
    format!(
        "{}\n--- stdout ---\n{}--- stderr (last 60 lines) ---\n{tail}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    )
}

#[test]
fn every_fuzz_target_runs_from_its_corpus_without_a_crash() {
    if !require_cargo_fuzz() {
        return;
    }
    let seconds = match std::env::var("FUZZ_SECONDS") {
        Ok(s) => s.parse::<u32>().ok().filter(|&n| n > 0).unwrap_or_else(|| {
            panic!("FUZZ_SECONDS={s:?}: want a whole number of seconds > 0 (0 would mean no limit)")
        }),
        Err(_) => DEFAULT_SECONDS,
    };
    let script = workspace_root().join("tests/fuzz/ci-smoke.sh");
    let out = clean_command("bash")
        .arg(&script)
        .env("FUZZ_SECONDS", seconds.to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ci-smoke.sh failed: {}",
        describe(&out)
    );
    for target in TARGETS {
        let runs = runs_of(&stdout, target);
        assert!(
            runs.is_some_and(|n| n > 0),
            "no `fuzz smoke {target}: ok, Done N runs` line with N > 0: {}",
            describe(&out)
        );
        eprintln!(
            "fuzz smoke {target}: {} runs in {seconds} s",
            runs.unwrap_or(0)
        );
    }
    assert!(
        stdout.contains(&format!("fuzz smoke passed: {}", TARGETS.join(" "))),
        "no closing `fuzz smoke passed` line: {}",
        describe(&out)
    );
}

#[test]
fn smoke_lines_are_read_as_the_script_writes_them() {
    let stdout = "fuzz smoke: cargo-fuzz 0.13.2, rustc 1.95.0, 20 s per target\n\
                  fuzz smoke parser: ok, Done 123456 runs\n\
                  fuzz smoke record: ok, \n\
                  fuzz smoke ring: ok, Done 0 runs\n";
    assert_eq!(runs_of(stdout, "parser"), Some(123_456));
    // A target whose log had no `Done` line (the script then prints nothing after "ok, ").
    assert_eq!(runs_of(stdout, "record"), None);
    assert_eq!(runs_of(stdout, "ring"), Some(0));
    assert_eq!(runs_of(stdout, "vrp_config"), None);
    assert!(leaks_into_fuzz_build("CARGO_TARGET_DIR"));
    assert!(leaks_into_fuzz_build("CARGO_BUILD_TARGET_DIR"));
    assert!(leaks_into_fuzz_build("CARGO_ENCODED_RUSTFLAGS"));
    assert!(leaks_into_fuzz_build("CARGO_PROFILE_RELEASE_LTO"));
    assert!(!leaks_into_fuzz_build("CARGO_BUILD_JOBS"));
    assert!(!leaks_into_fuzz_build("CARGO_HOME"));
    assert!(!leaks_into_fuzz_build("RUSTUP_TOOLCHAIN"));
}
