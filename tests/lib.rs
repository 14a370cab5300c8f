//! Shared helpers of the end-to-end and interop tests: where the reference material is,
//! and how a test finds a third-party tool (skip locally, fail loudly under `CI=true`).

use std::path::{Path, PathBuf};
use std::process::Command;

pub use nsflow_testkit::shared::{in_ci, require_shared, shared_dir, traffic_captures};
pub use nsflow_testkit::tools::{require, require_tool, tool_present};

/// A free UDP port on 127.0.0.1 (bound and released; good enough for one test).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Returns true when `python3` can import `module`; like [`require_tool`] otherwise.
pub fn require_python_module(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    require(
        ok,
        &format!("python3 module {module}"),
        "not installed",
        "pip install it in .ci/run",
    )
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary of this workspace for this build's profile (target/PROFILE/BIN beside the
/// test's deps/), built first (`cargo build -p PACKAGE --bin BIN`, so that it is never
/// older than its sources: `cargo test --workspace` builds it anyway, `cargo test -p
/// nsflow-tests` alone does not). `None` when it is not there and cannot be built.
pub fn try_workspace_binary(package: &str, bin: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = dir.join(bin);
    let release = dir.file_name().is_some_and(|d| d == "release");
    let mut cmd = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    cmd.args(["build", "-q", "-p", package, "--bin", bin])
        .current_dir(workspace_root());
    if release {
        cmd.arg("--release");
    }
    let built = cmd.status().is_ok_and(|s| s.success());
    (built || path.is_file()).then_some(path)
}

/// The `nsflow` binary of this build ([`try_workspace_binary`]).
pub fn nsflow_binary() -> PathBuf {
    try_workspace_binary("nsflow", "nsflow").unwrap_or_else(|| panic!("cannot build nsflow"))
}

/// The `nsflow-hwsim` binary of this build ([`try_workspace_binary`]).
pub fn hwsim_binary() -> PathBuf {
    try_workspace_binary("nsflow-hwsim", "nsflow-hwsim")
        .unwrap_or_else(|| panic!("cannot build nsflow-hwsim"))
}
pub mod decoded;
pub mod nfcapd;
