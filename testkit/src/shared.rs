//! Where the reference material is: the `shared/` folder beside the checkout (read-only
//! third-party captures and tools) and the traffic captures in it. Tests and benchmarks
//! of every crate find their inputs through this one place.

use std::path::{Path, PathBuf};

/// The `shared/` folder beside the checkout; the `NSFLOW_SHARED` environment variable
/// overrides it.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("NSFLOW_SHARED") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

/// Whether this run is CI (`CI=true`), where tests may not skip for want of an input.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The shared folder when it holds `pcaps/`. Otherwise a skip: a message and `None`
/// locally; under `CI=true` a panic, since CI always has `shared/` beside the clone.
pub fn require_shared() -> Option<PathBuf> {
    let d = shared_dir();
    if d.join("pcaps").is_dir() {
        return Some(d);
    }
    assert!(
        !in_ci(),
        "shared/ not found at {} (set NSFLOW_SHARED)",
        d.display()
    );
    eprintln!("SKIPPED: shared/ not found at {}", d.display());
    None
}

/// Every traffic capture (pcap and pcapng) in `shared/pcaps` and `shared/pcaps/edge`,
/// sorted; the exporters' captures in `netflow/` are not traffic and are left out.
pub fn traffic_captures(shared: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = [shared.join("pcaps"), shared.join("pcaps/edge")]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("pcap" | "pcapng")
                )
        })
        .collect();
    v.sort();
    v
}
