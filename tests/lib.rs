//! Shared helpers of the end-to-end and interop tests: where the reference material is,
//! and how a test finds a third-party tool (skip locally, fail loudly under `CI=true`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `shared/` reference folder beside the checkout (override with `NSFLOW_SHARED`).
pub fn shared_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("NSFLOW_SHARED") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// Whether this run is CI, where every interop test must run.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether `tool` runs (`tool --version` or `-V` succeeds).
pub fn tool_present(tool: &str) -> bool {
    ["--version", "-V", "-h"].iter().any(|arg| {
        Command::new(tool)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Returns true when `tool` can be used. When it cannot: under `CI=true` this panics (the
/// interop test must run there); elsewhere it prints why the test is skipped and returns
/// false, so the caller returns early.
pub fn require_tool(tool: &str) -> bool {
    if tool_present(tool) {
        return true;
    }
    assert!(
        !in_ci(),
        "{tool} is required under CI=true but was not found (apt-get install it in .ci/run)"
    );
    eprintln!("SKIPPED: {tool} not installed; this test runs under CI=true");
    false
}

/// The shared reference folder, or a skip (panic under CI) when it is missing.
pub fn require_shared() -> Option<PathBuf> {
    let d = shared_dir();
    if d.join("pcaps").is_dir() {
        return Some(d);
    }
    assert!(!in_ci(), "shared/ not found at {}", d.display());
    eprintln!("SKIPPED: shared/ not found at {}", d.display());
    None
}

/// Every capture of traffic in `shared/pcaps` and `shared/pcaps/edge` (pcap and pcapng),
/// sorted; the exporters' captures in `netflow/` are not traffic and are left out.
pub fn traffic_captures(shared: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in [shared.join("pcaps"), shared.join("pcaps/edge")] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if p.is_file() && (ext == "pcap" || ext == "pcapng") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

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
    if ok {
        return true;
    }
    assert!(
        !in_ci(),
        "python3 module {module} is required under CI=true (pip install it in .ci/run)"
    );
    eprintln!("SKIPPED: python3 module {module} not installed; this test runs under CI=true");
    false
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `nsflow` binary of this build (target/PROFILE/nsflow beside the test's deps/),
/// built first if needed: `cargo test --workspace` builds it anyway; `cargo test -p
/// nsflow-tests` alone does not.
pub fn nsflow_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let bin = dir.join("nsflow");
    let release = dir.file_name().is_some_and(|d| d == "release");
    let mut cmd = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    cmd.args(["build", "-q", "-p", "nsflow-driver", "--bin", "nsflow"])
        .current_dir(workspace_root());
    if release {
        cmd.arg("--release");
    }
    let built = cmd.status().is_ok_and(|s| s.success());
    assert!(built || bin.is_file(), "cannot build {}", bin.display());
    bin
}
