//! The kernel-VFIO backend for real: tests/kernel_vfio/run.sh boots a QEMU guest (TCG)
//! with an emulated VT-d IOMMU and QEMU's `edu` device, binds edu to vfio-pci and runs
//! the payload tests/kernel_vfio/guest.rs in it, which drives edu through
//! `VfioBackend::open` and the `Backend` trait as nsflow drives its engine. This test
//! prints the guest's boot, bind, check and verdict lines and fails unless the verdict is
//! PASS. Skipped without QEMU, busybox or modinfo, except under `CI=true` (.ci/run
//! installs them). docs/deploy.md says what it proves and what only silicon can.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_tests::{require, tool_present, workspace_root};
use std::process::Command;
use std::time::Instant;

#[test]
fn the_kernel_vfio_backend_drives_edu_behind_an_iommu_in_a_qemu_guest() {
    // busybox knows no --version; `--list` is its cheapest successful call.
    let busybox = Command::new("busybox")
        .arg("--list")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing: Vec<&str> = [
        ("qemu-system-x86_64", tool_present("qemu-system-x86_64")),
        ("busybox", busybox),
        ("modinfo", tool_present("modinfo")),
    ]
    .into_iter()
    .filter_map(|(tool, present)| (!present).then_some(tool))
    .collect();
    if !require(
        missing.is_empty(),
        &missing.join(", "),
        "not installed",
        "apt-get install --no-install-recommends qemu-system-x86 busybox-static kmod in .ci/run",
    ) {
        return;
    }
    let started = Instant::now();
    let out = Command::new(workspace_root().join("tests/kernel_vfio/run.sh"))
        .output()
        .expect("tests/kernel_vfio/run.sh runs");
    let console = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = console
        .lines()
        .filter_map(|l| l.find("KVFIO ").map(|i| &l[i..]))
        .collect();
    for line in &lines {
        println!("{line}");
    }
    println!(
        "guest test wall time: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let passed = lines.last() == Some(&"KVFIO verdict: PASS");
    assert!(
        passed && out.status.success(),
        "the guest test did not pass ({})\n--- run.sh stderr ---\n{}\n--- console ---\n{console}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
