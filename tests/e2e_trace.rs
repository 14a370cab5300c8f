//! `nsflow trace`: the driver brings the in-process model up and drains it, and the VCD
//! window holds exactly the events the documented timing puts in it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_testkit::wave::{ps, traffic_1mpps as traffic, Wave, SIGNALS};
use std::process::Command;

#[test]
fn the_trace_command_writes_a_window_of_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("t.pcap");
    let out = dir.path().join("t.vcd");
    let frames = traffic(300);
    {
        let f = std::fs::File::create(&pcap).unwrap();
        let mut w = pcap_file::pcap::PcapWriter::new(f).unwrap();
        for fr in &frames {
            let ts = std::time::Duration::from_nanos(fr.ts_ns);
            let p = pcap_file::pcap::PcapPacket::new(ts, fr.data.len() as u32, &fr.data);
            w.write_packet(&p).unwrap();
        }
    }
    let (from, to) = (50_000u64, 60_000u64);
    let run = Command::new(nsflow_tests::nsflow_binary())
        .arg("trace")
        .arg("--pcap")
        .arg(&pcap)
        .args(["--config-profiles", "3"])
        .args(["--from", &from.to_string(), "--to", &to.to_string()])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("300 frames"), "{stdout}");

    let w = Wave::read(&out);
    for s in SIGNALS {
        assert!(w.changes.contains_key(*s), "{s} not declared");
    }
    let rises = w.rises("ingress_valid");
    let expected: Vec<u64> = (200..240).map(|k| ps(250 * k)).collect();
    assert_eq!(rises, expected);
    assert!(w.stamps.iter().all(|t| (ps(from)..=ps(to)).contains(t)));
}

#[test]
fn the_trace_command_refuses_an_empty_window() {
    let dir = tempfile::tempdir().unwrap();
    let run = Command::new(nsflow_tests::nsflow_binary())
        .args(["trace", "--pcap", "/nonexistent.pcap"])
        .args(["--from", "10", "--to", "10", "--out"])
        .arg(dir.path().join("x.vcd"))
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("empty trace window"), "{err}");
}
