//! `regcheck` through `nsflow-hwsim serve`: the suite generated from the register map,
//! run by the driver's vfio-user backend against the model in another process, must pass
//! as it does in-process (regcheck_sim.rs) — BAR0 reaches the model unchanged.
//!
//! The server binary is found in this test's target directory: the test runs as
//! `target/<profile>/deps/vfio_user-HASH`, the binary is `target/<profile>/nsflow-hwsim`.
//! `cargo test --workspace` builds it (hwsim's own integration tests need it); when only
//! this crate is tested, build it first with `cargo build -p nsflow-hwsim`. Without it the
//! test is skipped locally and fails under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_driver::backend::vfio_user::VfioUserBackend;
use nsflow_driver::regcheck;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `target/<profile>/nsflow-hwsim`, or None (a skip; a failure under CI) when missing.
fn server_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("nsflow-hwsim");
    if bin.is_file() {
        return Some(bin);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "{} is missing: run `cargo build -p nsflow-hwsim` first",
        bin.display()
    );
    eprintln!(
        "SKIPPED: {} is missing (cargo build -p nsflow-hwsim)",
        bin.display()
    );
    None
}

#[test]
fn the_served_model_passes_regcheck() {
    let Some(bin) = server_binary() else { return };
    let dir = std::env::temp_dir().join(format!("nsflow-vfio-user-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("hwsim.sock");
    let mut child = Command::new(bin)
        .arg("serve")
        .arg("--socket")
        .arg(&socket)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("listening on"), "{ready}");
    let result = std::panic::catch_unwind(|| {
        let mut dev = VfioUserBackend::connect(&socket).unwrap();
        regcheck::run(&mut dev).unwrap()
    });
    // Stopped by its PID whatever happened.
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let report = result.unwrap();
    assert!(
        report.results.len() > 1000,
        "{} checks",
        report.results.len()
    );
    assert!(
        report.passed(),
        "regcheck failed:\n{}",
        report.render(false)
    );
}
