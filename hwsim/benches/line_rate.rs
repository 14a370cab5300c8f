//! The modelled throughput: packets per cycle at 250 MHz (default build) with 1, 2, 4, 8
//! and 14 profiles enabled, for 64-byte frames of 10 000 flows offered back to back at
//! 100GbE line rate (148.8 Mpps, one frame every 6.72 ns = 0.595 frames per cycle) and
//! saturated (one frame every cycle), with the stall counters that say which unit held
//! the datapath. The figures are the model's cycles, so one run suffices (they do not
//! depend on the machine); the wall-clock rate of the run is printed beside them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{engine, mega, Bench};
use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use nsflow_hwsim::BuildParams;
use nsflow_rtl::parser::LinkType;
use nsflow_rtl::regs::GlobalStat;
use nsflow_testkit::harness::read_stats;
use std::time::Instant;

const PACKETS: u64 = 400_000;

fn run(profiles: usize, rate_pps: u64) {
    let mut b = Bench::new(BuildParams::default(), &engine(profiles));
    let mut g = Generator::new(GeneratorConfig {
        flows: 10_000,
        sizes: vec![(64, 1)],
        rate_pps,
        duration_ns: u64::try_from(u128::from(PACKETS) * 1_000_000_000 / u128::from(rate_pps))
            .unwrap(),
        ..GeneratorConfig::default()
    });
    let mut buf = Vec::new();
    let wall = Instant::now();
    while let Some(ts) = g.next_into(&mut buf) {
        b.offer(ts, Some(LinkType::Ethernet), &buf);
    }
    b.dev.run_until_idle();
    let t = b.dev.throughput();
    let secs = wall.elapsed().as_secs_f64();
    let s = read_stats(&mut b.dev);
    let offered = rate_pps as f64 / b.dev.params().clock_hz as f64;
    println!(
        "{profiles:>2} profiles  offered {offered:.3}/cycle  accepted {:.3}/cycle  \
         ({} packets, {} cycles)  stall_ingress {} stall_table {} stall_ring_full {}  \
         [{} packets/s wall clock]",
        t.per_cycle(),
        t.packets,
        t.cycles,
        s.global(GlobalStat::StallIngress),
        s.global(GlobalStat::StallTable),
        s.global(GlobalStat::StallRingFull),
        mega(t.packets as f64 / secs),
    );
}

fn main() {
    println!("64-byte frames, 10 000 flows, default build (250 MHz, SCAN_CTRL.share 32)");
    println!("-- 100GbE line rate, 148.8 Mpps");
    for p in [1, 2, 4, 8, 14] {
        run(p, 148_809_524);
    }
    println!("-- saturated: one frame per cycle (250 Mpps)");
    for p in [1, 2, 4, 8, 14] {
        run(p, 250_000_000);
    }
}
