//! The driver's integration suite, run unchanged on every backend that can host a model:
//! the in-process model (`sim`) and `nsflow-hwsim serve` over vfio-user (`vfio_user`).
//! Each check in [`suite`] takes a backend factory; the `sim` and `vfio_user` modules at
//! the end instantiate all of them (the vfio-user ones skip locally when the server cannot
//! be built, and fail under `CI=true`).
//!
//! What is checked: bring-up and its refusals; every shared capture with all 14
//! aggregation modes, drained records conserving the device's IPv6 packets and bytes per
//! profile and equal to the reference aggregator per key; a reconfiguration mid-replay
//! flushing everything of the old configuration; a driver restart (detach, attach)
//! resuming at the device's consumer index with every record seen exactly once; a
//! malicious ring stopping the device with typed errors and counters; and the drain task
//! draining everything by polling when interrupts are lost. `sim_faults` adds the hwsim
//! fault modes, which only the in-process model can be given.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backend_support;

/// The checks, each on a fresh device from `new`.
mod suite {
    use crate::backend_support::*;
    use nsflow_driver::device::{Device, DeviceError, DeviceStats};
    use nsflow_driver::drain::{self, DrainConfig, DrainSummary, SharedDevice};
    use nsflow_driver::ring::RingError;
    use nsflow_hwsim::capture::{CaptureReader, Frame};
    use nsflow_rtl::config::EngineConfig;
    use nsflow_rtl::record::{phase_for, Record, RecordError, RECORD_BYTES};
    use nsflow_rtl::reference::ReferenceOutput;
    use nsflow_rtl::regs::{self, Ctrl, Status};
    use nsflow_rtl::{AggregationMode, EndReason, FlowKey};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::sync::{mpsc, watch};

    /// One profile per aggregation mode, default timers.
    pub(crate) fn all_modes() -> EngineConfig {
        EngineConfig::with_modes(&AggregationMode::ALL)
    }

    /// All modes with timers of seconds, so that records leave the device during a replay
    /// of a capture that spans seconds, not only at the final flush.
    pub(crate) fn short_timers() -> EngineConfig {
        let mut c = all_modes();
        c.orig_inactive_s = 1;
        c.orig_active_s = 4;
        for p in &mut c.profiles {
            p.inactive_s = 2;
            p.active_s = 6;
        }
        c
    }

    /// CTRL.enable as the device reports it.
    pub(crate) fn enabled(dev: &mut Device) -> bool {
        Ctrl(dev.backend().read32(regs::CTRL.offset).unwrap()).enable()
    }

    /// Per profile, the records conserve what the device keyed, and nothing was dropped.
    pub(crate) fn assert_conserved(
        what: &str,
        records: &[Record],
        stats: &DeviceStats,
        profiles: usize,
    ) {
        let dropped = assert_accounted(what, records, stats, profiles);
        assert!(
            dropped.iter().all(|d| *d == 0),
            "{what}: dropped {dropped:?}"
        );
    }

    /// Per profile, the records plus the drop counters carry exactly the packets and bytes
    /// the device keyed. Returns the packets dropped per profile.
    pub(crate) fn assert_accounted(
        what: &str,
        records: &[Record],
        stats: &DeviceStats,
        profiles: usize,
    ) -> Vec<u64> {
        let keyed = (
            stats.global(GlobalStat::Ipv6Packets),
            stats.global(GlobalStat::Ipv6Bytes),
        );
        let mut dropped = Vec::new();
        for (p, (packets, bytes)) in per_profile(records, profiles).into_iter().enumerate() {
            let drops = (
                stats.profile(p, ProfileStat::DropPackets),
                stats.profile(p, ProfileStat::DropBytes),
            );
            assert_eq!(
                (packets + drops.0, bytes + drops.1),
                keyed,
                "{what}: profile {p} records carry (packets, bytes) {:?} and dropped {drops:?}, the device keyed {keyed:?}",
                (packets, bytes)
            );
            dropped.push(drops.0);
        }
        dropped
    }

    /// Every record the device wrote was drained exactly once: per profile, as many records
    /// as the device's `records` counter.
    pub(crate) fn assert_each_record_once(
        what: &str,
        records: &[Record],
        stats: &DeviceStats,
        profiles: usize,
    ) {
        for p in 0..profiles {
            let n = records
                .iter()
                .filter(|r| usize::from(r.profile) == p)
                .count() as u64;
            assert_eq!(
                n,
                stats.profile(p, ProfileStat::Records),
                "{what}: profile {p} drained {n} records, the device wrote {}",
                stats.profile(p, ProfileStat::Records)
            );
        }
    }

    fn assert_ingress_is_the_reference(what: &str, stats: &DeviceStats, r: &ReferenceOutput) {
        let i = &r.ingress;
        assert_eq!(
            [
                stats.global(GlobalStat::RxFrames),
                stats.global(GlobalStat::Ipv6Packets),
                stats.global(GlobalStat::Ipv6Bytes),
                stats.global(GlobalStat::Ipv4Packets),
                stats.global(GlobalStat::OtherFrames),
            ],
            [
                i.rx_frames,
                i.ipv6_packets,
                i.ipv6_bytes,
                i.ipv4_packets,
                i.other_frames
            ],
            "{what}: ingress counters"
        );
    }

    // ----- bring-up ---------------------------------------------------------------------

    /// Bring-up identifies the engine, programs every profile and the ring, enables it, and
    /// refuses what does not fit the device.
    pub fn bring_up(new: &Factory) {
        let mut dev = Device::bring_up(new(), &tables(), &all_modes(), 8).unwrap();
        let id = dev.identity();
        assert_eq!(id.major, regs::VERSION_MAJOR);
        assert_eq!(id.record_bytes as usize, RECORD_BYTES);
        assert!(id.profiles as usize >= AggregationMode::ALL.len());
        assert_eq!(dev.modes(), &AggregationMode::ALL);
        let be = dev.backend();
        assert_eq!(be.read32(regs::RING_SIZE.offset).unwrap(), 8);
        let base = u64::from(be.read32(regs::RING_BASE_HI.offset).unwrap()) << 32
            | u64::from(be.read32(regs::RING_BASE_LO.offset).unwrap());
        assert!(base != 0 && base % 4096 == 0, "ring base {base:#x}");
        for (p, m) in AggregationMode::ALL.iter().enumerate() {
            let ctrl = regs::ProfCtrl(be.read32(regs::PROF_CTRL.at(p as u32)).unwrap());
            assert!(
                ctrl.enable() && ctrl.mode() == m.index(),
                "profile {p}: {ctrl:?}"
            );
        }
        assert!(enabled(&mut dev));
        assert!(!dev.check_status().unwrap().error());
        let stats = dev.stats().unwrap();
        assert_eq!(stats.global(GlobalStat::RxFrames), 0);
        assert_eq!(stats.profiles.len(), AggregationMode::ALL.len());
        let mut out = Vec::new();
        dev.shutdown(&mut out, FLUSH_TIMEOUT).unwrap();
        assert!(out.is_empty(), "no traffic, no records: {out:?}");

        let mut fifteen = all_modes();
        fifteen.profiles.push(fifteen.profiles[0]);
        assert!(matches!(
            Device::bring_up(new(), &tables(), &fifteen, 8),
            Err(DeviceError::Limit(LimitError::TooManyProfiles {
                wanted: 15,
                ..
            }))
        ));
        assert!(matches!(
            Device::bring_up(new(), &tables(), &all_modes(), 31),
            Err(DeviceError::Invalid(_))
        ));
        let mut zero = all_modes();
        zero.orig_inactive_s = 0;
        assert!(matches!(
            Device::bring_up(new(), &tables(), &zero, 8),
            Err(DeviceError::Invalid(_))
        ));
    }

    // ----- traffic ----------------------------------------------------------------------

    /// Every shared capture, all 14 modes at once, a small ring (wrapping, backpressure):
    /// per profile the drained records carry exactly the IPv6 packets and bytes the device
    /// keyed, every record once, and per key what the reference aggregator computes.
    pub fn captures_conserve_packets_and_bytes(new: &Factory) {
        let Some(caps) = traffic_captures() else {
            return;
        };
        assert!(caps.len() > 100, "{} captures", caps.len());
        let (cfg, tables) = (all_modes(), tables());
        let (mut files, mut records_seen, mut packets) = (0, 0, 0);
        for path in &caps {
            let what = path.display().to_string();
            let frames = match CaptureReader::read_all(path) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("{what}: unreadable capture skipped: {e}");
                    continue;
                }
            };
            let mut dev = Device::bring_up(new(), &tables, &cfg, 8).unwrap();
            let mut records = Vec::new();
            replay(&mut dev, &frames, &mut records);
            dev.flush_and_drain(&mut records, FLUSH_TIMEOUT).unwrap();
            let stats = dev.stats().unwrap();
            let r = reference(&cfg, &tables, &frames);
            assert_ingress_is_the_reference(&what, &stats, &r);
            assert_conserved(&what, &records, &stats, cfg.profiles.len());
            assert_each_record_once(&what, &records, &stats, cfg.profiles.len());
            assert_eq!(
                stats.global(GlobalStat::OrigEvicted),
                0,
                "{what}: the tables filled"
            );
            assert_eq!(
                per_key(&records, cfg.profiles.len()),
                reference_per_key(&r),
                "{what}: per-key totals differ from the reference aggregator"
            );
            assert_eq!(dev.ring_counters().errors, 0);
            files += 1;
            records_seen += records.len();
            packets += stats.global(GlobalStat::Ipv6Packets);
        }
        eprintln!("{files} captures, {packets} IPv6 packets, {records_seen} records");
        assert!(files > 100 && packets > 50_000 && records_seen > 3_000);
    }

    /// `Device::reconfigure` in the middle of a replay, from 4 modes to all 14 with other
    /// timers: the records drained before (old modes) carry exactly the first half's
    /// packets, those after (new modes, also in the profile slots the old configuration
    /// did not use) the second half's, per key as the reference aggregator computes for
    /// each half.
    pub fn reconfiguration_flushes_and_conserves(new: &Factory) {
        let Some(frames) = all_traffic() else {
            return;
        };
        let (first, second) = frames.split_at(frames.len() / 2);
        let tables = tables();
        // From 4 profiles to 14 (the slots above 4 become valid), other timers.
        let old = EngineConfig::with_modes(&AggregationMode::ALL[10..]);
        let mut new_cfg = all_modes();
        new_cfg.orig_inactive_s = 5;
        new_cfg.profiles[0].inactive_s = 20;
        let mut dev = Device::bring_up(new(), &tables, &old, 8).unwrap();
        let mut before = Vec::new();
        replay(&mut dev, first, &mut before);
        dev.reconfigure(&new_cfg, None, &mut before, FLUSH_TIMEOUT)
            .unwrap();
        assert_eq!(dev.modes(), &AggregationMode::ALL);
        let at_reconfig = dev.stats().unwrap();
        assert_conserved("before", &before, &at_reconfig, old.profiles.len());
        let ref_old = reference(&old, &tables, first);
        assert_eq!(
            packets_bytes(&per_key(&before, old.profiles.len())),
            packets_bytes(&reference_per_key(&ref_old)),
            "records of the old configuration, per key"
        );

        let mut after = Vec::new();
        replay(&mut dev, second, &mut after);
        dev.flush_and_drain(&mut after, FLUSH_TIMEOUT).unwrap();
        let end = dev.stats().unwrap();
        let keyed = |s: &DeviceStats| {
            (
                s.global(GlobalStat::Ipv6Packets),
                s.global(GlobalStat::Ipv6Bytes),
            )
        };
        let second_keyed = (
            keyed(&end).0 - keyed(&at_reconfig).0,
            keyed(&end).1 - keyed(&at_reconfig).1,
        );
        assert!(second_keyed.0 > 1000, "{second_keyed:?}");
        for (p, sums) in per_profile(&after, new_cfg.profiles.len())
            .into_iter()
            .enumerate()
        {
            assert_eq!(sums, second_keyed, "after: profile {p}");
        }
        let ref_new = reference(&new_cfg, &tables, second);
        assert_eq!(
            packets_bytes(&per_key(&after, new_cfg.profiles.len())),
            packets_bytes(&reference_per_key(&ref_new)),
            "records of the new configuration, per key"
        );
        assert_eq!(
            keyed(&end),
            (
                ref_old.ingress.ipv6_packets + ref_new.ingress.ipv6_packets,
                ref_old.ingress.ipv6_bytes + ref_new.ingress.ipv6_bytes
            )
        );
    }

    /// A driver instance goes away in the middle of a flush with records published and not
    /// drained; a new instance attaches to the running device (after refusing a wrong
    /// configuration), resumes at the device's consumer index and finishes the replay:
    /// every record the device wrote is drained exactly once, and the packets and bytes
    /// per key are the reference aggregator's.
    pub fn restart_resumes_exactly_once(new: &Factory) {
        let Some(frames) = all_traffic() else {
            return;
        };
        let (first, second) = frames.split_at(frames.len() / 2);
        let (cfg, tables) = (short_timers(), tables());
        let mut a = Device::bring_up(new(), &tables, &cfg, 4).unwrap();
        let mut seen = Vec::new();
        replay(&mut a, first, &mut seen);
        // Leave the ring with published records the first instance has not drained: a
        // flush of 14 profiles' aggregates fills a 16-record ring.
        a.start_flush().unwrap();
        let prod = loop {
            let prod = a.backend().read32(regs::RING_PROD.offset).unwrap();
            if prod.wrapping_sub(a.ring().consumer_index()) >= 2 {
                break prod;
            }
            assert!(
                a.check_status().unwrap().flush_busy(),
                "the flush ended without filling the ring"
            );
            std::thread::yield_now();
        };
        a.drain(&mut seen, 1).unwrap();
        let acked = a.ring().consumer_index();
        assert_eq!(a.backend().read32(regs::RING_CONS.offset).unwrap(), acked);
        assert!(prod.wrapping_sub(acked) >= 1);
        let by_a = seen.len();
        let parts = a.detach();

        // The wrong configuration is refused, and the parts come back.
        let Err(refused) = Device::attach(parts, &all_modes()) else {
            panic!("attached with the wrong configuration");
        };
        assert!(
            matches!(refused.error, DeviceError::Mismatch(_)),
            "{}",
            refused.error
        );
        let mut b = Device::attach(*refused.detached, &cfg).unwrap();
        assert_eq!(b.ring().consumer_index(), acked, "resumes at RING_CONS");
        assert_eq!(b.modes(), &AggregationMode::ALL);
        while b.check_status().unwrap().flush_busy() {
            b.drain(&mut seen, usize::MAX).unwrap();
            std::thread::yield_now();
        }
        while b.drain(&mut seen, usize::MAX).unwrap() > 0 {}
        assert!(seen.len() > by_a, "the new instance drained what was left");
        replay(&mut b, second, &mut seen);
        b.flush_and_drain(&mut seen, FLUSH_TIMEOUT).unwrap();
        let stats = b.stats().unwrap();
        let n = cfg.profiles.len();
        assert_each_record_once("restart", &seen, &stats, n);
        assert_conserved("restart", &seen, &stats, n);
        let r = reference(&cfg, &tables, frames);
        assert_ingress_is_the_reference("restart", &stats, &r);
        assert_eq!(
            packets_bytes(&per_key(&seen, n)),
            packets_bytes(&reference_per_key(&r)),
            "per-key packets and bytes across the restart"
        );
    }

    // ----- a malicious device ----------------------------------------------------------

    /// A record as a device would write it at free-running index `i`.
    fn valid(i: u32, log2: u8, profile: u8) -> [u8; RECORD_BYTES] {
        Record {
            profile,
            reason: EndReason::Idle,
            phase: phase_for(i, log2),
            flows: 1,
            packets: 2,
            bytes: 200,
            first_ns: 10,
            last_ns: 20,
            key: FlowKey {
                src_port: 1000 + i as u16,
                ..FlowKey::default()
            },
        }
        .encode()
    }

    /// Plays a malicious device: writes `slots` into ring slots from `from` and publishes
    /// `prod` in the write-back slot.
    fn publish(dev: &Device, from: u32, slots: &[[u8; RECORD_BYTES]], prod: u32) {
        let ring = dev.ring();
        let mask = ring.entries() - 1;
        for (k, s) in slots.iter().enumerate() {
            let slot = (from + k as u32) & mask;
            ring.memory()
                .write(slot as usize * RECORD_BYTES, s)
                .unwrap();
        }
        ring.memory()
            .write(ring.writeback_offset(), &u64::from(prod).to_le_bytes())
            .unwrap();
    }

    /// Each way a device can lie through the ring — a producer index more than a ring
    /// ahead or behind, a slot published but not written, a corrupt record, a profile never
    /// programmed — is a typed error that stops the device (CTRL.enable cleared), counted,
    /// with nothing consumed past the bad record; valid records before a bad one are
    /// delivered once and acknowledged, also through the drain task.
    pub fn malicious_ring_writes_stop_the_device(new: &Factory) {
        let cfg = EngineConfig::with_modes(&AggregationMode::ALL[..2]);
        let log2 = 4;
        let fresh = || Device::bring_up(new(), &tables(), &cfg, log2).unwrap();
        let corrupt = {
            let mut b = valid(0, log2, 0);
            b[2] = 9;
            b
        };
        type Check = fn(&DeviceError) -> bool;
        let cases: [(&str, Vec<[u8; RECORD_BYTES]>, u32, Check); 5] = [
            ("beyond the ring", vec![], 17, |e| {
                matches!(
                    e,
                    DeviceError::Ring(RingError::IndexOutOfRange { prod: 17, .. })
                )
            }),
            ("backwards", vec![], u32::MAX, |e| {
                matches!(e, DeviceError::Ring(RingError::IndexOutOfRange { .. }))
            }),
            ("published, never written", vec![], 1, |e| {
                matches!(e, DeviceError::Ring(RingError::Phase { slot: 0, index: 0 }))
            }),
            ("corrupt record", vec![corrupt], 1, |e| {
                matches!(
                    e,
                    DeviceError::Ring(RingError::Record {
                        source: RecordError::Reason(9),
                        ..
                    })
                )
            }),
            ("unprogrammed profile", vec![valid(0, log2, 5)], 1, |e| {
                matches!(e, DeviceError::Ring(RingError::Profile { profile: 5, .. }))
            }),
        ];
        for (what, slots, prod, check) in cases {
            let mut dev = fresh();
            publish(&dev, 0, &slots, prod);
            let mut out = Vec::new();
            let e = dev.drain(&mut out, usize::MAX).unwrap_err();
            assert!(check(&e), "{what}: {e}");
            assert!(!enabled(&mut dev), "{what}: the device was not stopped");
            assert_eq!(dev.ring_counters().errors, 1, "{what}");
            assert!(out.is_empty(), "{what}: {out:?}");
            assert_eq!(dev.ring().consumer_index(), 0, "{what}");
            assert_eq!(dev.backend().read32(regs::RING_CONS.offset).unwrap(), 0);
            // It stays refused: asking again gives the same error, not a record.
            assert!(dev.drain(&mut out, usize::MAX).is_err() && out.is_empty());
        }

        // Three good records, then a corrupt one, through the drain task.
        let mut dev = fresh();
        let good: Vec<_> = (0..3).map(|i| valid(i, log2, (i % 2) as u8)).collect();
        publish(&dev, 0, &[good.clone(), vec![corrupt]].concat(), 4);
        let irq = dev.backend().irq().map(|e| e.try_clone().unwrap());
        let shared: SharedDevice = Arc::new(Mutex::new(dev));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let (_stop_tx, stop_rx) = watch::channel(false);
        let result = rt.block_on(drain::run(
            shared.clone(),
            irq,
            DrainConfig::default(),
            tx,
            stop_rx,
        ));
        assert!(
            matches!(
                result,
                Err(drain::DrainError::Device(DeviceError::Ring(
                    RingError::Record { index: 3, .. }
                )))
            ),
            "{result:?}"
        );
        let mut got = Vec::new();
        while let Ok(batch) = rx.try_recv() {
            got.extend(batch);
        }
        let want: Vec<Record> = good.iter().map(|b| Record::decode(b).unwrap()).collect();
        assert_eq!(got, want, "the valid records before the bad one, once");
        let mut d = drain::lock(&shared);
        assert_eq!(d.backend().read32(regs::RING_CONS.offset).unwrap(), 3);
        assert!(!enabled(&mut d));
        assert_eq!(d.ring_counters().errors, 1);
    }

    // ----- interrupts --------------------------------------------------------------------

    /// Replays `frames` into a shared device while the drain task runs (calling `halfway`
    /// once half of them are taken), then stops it (final flush and drain). Returns its
    /// summary, the records it handed on and the device's statistics.
    pub(crate) fn through_drain_task(
        dev: Device,
        irq: Option<vmm_sys_util::eventfd::EventFd>,
        frames: &[Frame],
        halfway: impl FnOnce(),
    ) -> (DrainSummary, Vec<Record>, DeviceStats) {
        let shared: SharedDevice = Arc::new(Mutex::new(dev));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (tx, mut rx) = mpsc::channel::<Vec<Record>>(16);
        let (stop_tx, stop_rx) = watch::channel(false);
        let cfg = DrainConfig {
            poll_interval: Duration::from_millis(1),
            batch: 64,
            flush_timeout: FLUSH_TIMEOUT,
            recover: true,
        };
        let task = rt.spawn(drain::run(shared.clone(), irq, cfg, tx, stop_rx));
        let collector = rt.spawn(async move {
            let mut all = Vec::new();
            while let Some(b) = rx.recv().await {
                all.extend(b);
            }
            all
        });
        let mut next = 0;
        let mut halfway = Some(halfway);
        while next < frames.len() {
            if next >= frames.len() / 2 {
                if let Some(f) = halfway.take() {
                    f();
                }
            }
            let end = (next + 64).min(frames.len());
            let taken = {
                let mut d = drain::lock(&shared);
                d.backend()
                    .traffic()
                    .unwrap()
                    .offer(&frames[next..end])
                    .unwrap()
            };
            next += taken;
            if taken == 0 {
                // The device holds back until the drain task frees ring space.
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        stop_tx.send(true).unwrap();
        let sum = rt.block_on(task).unwrap().unwrap();
        let records = rt.block_on(collector).unwrap();
        let stats = drain::lock(&shared).stats().unwrap();
        (sum, records, stats)
    }

    /// Interrupts lost (every cause masked, so the device sends no message): the drain task
    /// wakes on its polling interval only and still drains every record.
    pub fn lost_interrupts_are_covered_by_polling(new: &Factory) {
        let Some(frames) = all_traffic() else {
            return;
        };
        let (cfg, tables) = (short_timers(), tables());
        let be = new();
        let irq = be.irq().map(|e| e.try_clone().unwrap());
        assert!(irq.is_some(), "the backend has an interrupt to lose");
        let mut dev = Device::bring_up(be, &tables, &cfg, 6).unwrap();
        dev.backend()
            .write32(regs::INT_MASK.offset, regs::INT_MASK.defined_mask())
            .unwrap();
        if let Some(e) = &irq {
            // Nothing may be pending from bring-up either.
            let _ = e.read();
        }
        let (sum, records, stats) = through_drain_task(dev, irq, frames, || {});
        assert_eq!(sum.interrupts, 0, "{sum:?}");
        assert!(sum.polls > 0, "{sum:?}");
        assert_eq!(sum.records, records.len() as u64);
        let n = cfg.profiles.len();
        assert_conserved("lost interrupts", &records, &stats, n);
        assert_each_record_once("lost interrupts", &records, &stats, n);
        let r = reference(&cfg, &tables, frames);
        assert_eq!(
            stats.global(GlobalStat::Ipv6Packets),
            r.ingress.ipv6_packets
        );
        assert_eq!(
            packets_bytes(&per_key(&records, n)),
            packets_bytes(&reference_per_key(&r))
        );
    }

    /// The control of the above: with interrupts unmasked the drain task is woken by them.
    pub fn interrupts_wake_the_drain_task(new: &Factory) {
        let Some(frames) = all_traffic() else {
            return;
        };
        let cfg = short_timers();
        let be = new();
        let irq = be.irq().map(|e| e.try_clone().unwrap());
        let dev = Device::bring_up(be, &tables(), &cfg, 6).unwrap();
        let (sum, records, stats) = through_drain_task(dev, irq, frames, || {});
        assert!(sum.interrupts > 0, "{sum:?}");
        assert_conserved("interrupts", &records, &stats, cfg.profiles.len());
    }

    /// A device already in its error state is refused by attach, and its status is a typed
    /// error, not a panic.
    /// The register-map validation suite (`nsflow regcheck`) passes on the device.
    pub fn regcheck_passes(new: &Factory) {
        let mut dev = new();
        let report = nsflow_driver::regcheck::run(dev.as_mut()).unwrap();
        assert!(
            report.results.len() > 1000,
            "{} checks",
            report.results.len()
        );
        assert!(
            report.passed(),
            "regcheck failed on {}:\n{}",
            dev.describe(),
            report.render(false)
        );
    }

    pub fn status_errors_are_typed(new: &Factory) {
        let mut dev = Device::bring_up(new(), &tables(), &all_modes(), 8).unwrap();
        // An invalid ring size while enabled puts the device into its error state.
        dev.backend().write32(regs::RING_SIZE.offset, 2).unwrap();
        let status = Status(dev.backend().read32(regs::STATUS.offset).unwrap());
        assert!(status.error(), "{status:?}");
        assert!(matches!(
            dev.check_status(),
            Err(DeviceError::DeviceFault(2))
        ));
        let Err(refused) = Device::attach(dev.detach(), &all_modes()) else {
            panic!("attached to a device in its error state");
        };
        assert!(matches!(refused.error, DeviceError::DeviceFault(2)));
    }
}

/// The hwsim fault modes (`nsflow_hwsim::Fault`), injected into the in-process model
/// while the driver runs it (the vfio-user server has no fault channel): a device that
/// publishes garbage or corrupt records is stopped with a typed error and counted, with
/// every record before the fault drained once; a DMA fault and a removed device end in
/// typed errors; lost interrupts cost nothing but latency; a clock jump loses nothing.
mod sim_faults {
    use crate::backend_support::*;
    use crate::suite::{
        all_modes, assert_accounted, assert_conserved, assert_each_record_once, enabled,
        short_timers, through_drain_task,
    };
    use nsflow_driver::backend::Backend;
    use nsflow_driver::device::{Device, DeviceError};
    use nsflow_driver::drain::{self, DrainConfig, DrainError};
    use nsflow_driver::ring::RingError;
    use nsflow_hwsim::Fault;
    use nsflow_rtl::record::RecordError;
    use nsflow_rtl::regs;
    use std::sync::{Arc, Mutex};
    use tokio::sync::{mpsc, watch};

    /// A device on a shared model that has drained records of a quarter of the traffic.
    fn running(sim: &SharedSim) -> (Device, Vec<nsflow_rtl::record::Record>) {
        let frames = all_traffic().expect("shared captures");
        let mut dev =
            Device::bring_up(Box::new(sim.clone()), &tables(), &short_timers(), 6).unwrap();
        let mut out = Vec::new();
        replay(&mut dev, &frames[..frames.len() / 4], &mut out);
        assert!(!out.is_empty());
        (dev, out)
    }

    /// Each record fault: the driver stops the device at the bad record with the typed
    /// error, counts it, and has consumed (and acknowledged) exactly the records before it.
    #[test]
    fn corrupt_records_stop_the_device() {
        if all_traffic().is_none() {
            return;
        }
        type Check = fn(&RingError) -> bool;
        let cases: [(Fault, Check); 4] = [
            (Fault::BadRecordVersion, |e| {
                matches!(
                    e,
                    RingError::Record {
                        source: RecordError::Version(0xEE),
                        ..
                    }
                )
            }),
            (Fault::BadRecordReason, |e| {
                matches!(
                    e,
                    RingError::Record {
                        source: RecordError::Reason(0),
                        ..
                    }
                )
            }),
            (Fault::ImpossibleCounters, |e| {
                matches!(
                    e,
                    RingError::Record {
                        source: RecordError::Impossible(_),
                        ..
                    }
                )
            }),
            (Fault::StalePhase, |e| matches!(e, RingError::Phase { .. })),
        ];
        let frames = all_traffic().unwrap();
        for (fault, check) in cases {
            let sim = SharedSim::new();
            let (mut dev, mut out) = running(&sim);
            sim.inject(fault);
            let err = try_replay(&mut dev, &frames[frames.len() / 4..], &mut out)
                .and_then(|()| dev.flush_and_drain(&mut out, FLUSH_TIMEOUT))
                .unwrap_err();
            let DeviceError::Ring(ring) = &err else {
                panic!("{fault:?}: {err}");
            };
            assert!(check(ring), "{fault:?}: {err}");
            let index = match ring {
                RingError::Record { index, .. } | RingError::Phase { index, .. } => *index,
                other => panic!("{fault:?}: {other}"),
            };
            assert_eq!(
                index as usize,
                out.len(),
                "{fault:?}: the records before it, once"
            );
            assert_eq!(dev.ring().consumer_index() as usize, out.len());
            assert_eq!(
                dev.backend().read32(regs::RING_CONS.offset).unwrap() as usize,
                out.len(),
                "{fault:?}: acknowledged"
            );
            assert_eq!(dev.ring_counters().errors, 1, "{fault:?}");
            assert!(!enabled(&mut dev), "{fault:?}: not stopped");
        }
    }

    /// A producer index more than a ring ahead: refused before any slot is read.
    #[test]
    fn a_producer_beyond_the_ring_stops_the_device() {
        if all_traffic().is_none() {
            return;
        }
        let sim = SharedSim::new();
        let (mut dev, mut out) = running(&sim);
        let (drained, cons) = (out.len(), dev.ring().consumer_index());
        sim.inject(Fault::ProducerBeyondRing);
        let err = dev.drain(&mut out, usize::MAX).unwrap_err();
        let entries = dev.ring().entries();
        assert!(
            matches!(err, DeviceError::Ring(RingError::IndexOutOfRange { prod, cons: c, entries: e })
                if c == cons && e == entries && prod == cons + entries + 1),
            "{err}"
        );
        assert_eq!(out.len(), drained);
        assert_eq!(dev.ring_counters().errors, 1);
        assert!(!enabled(&mut dev));
    }

    /// `frames` through the drain task on a model with short timers and a 64-record ring,
    /// `at_start` injected before the first frame and `halfway` once half are taken.
    /// Returns the drain summary, the records, the statistics and the profile count.
    fn faulted_drain(
        frames: &[nsflow_hwsim::capture::Frame],
        at_start: Option<Fault>,
        halfway: Option<Fault>,
    ) -> (
        nsflow_driver::drain::DrainSummary,
        Vec<nsflow_rtl::record::Record>,
        nsflow_driver::device::DeviceStats,
        usize,
    ) {
        let sim = SharedSim::new();
        let cfg = short_timers();
        let irq = sim.irq().map(|e| e.try_clone().unwrap());
        let dev = Device::bring_up(Box::new(sim.clone()), &tables(), &cfg, 6).unwrap();
        if let Some(f) = at_start {
            sim.inject(f);
        }
        let (sum, records, stats) = through_drain_task(dev, irq, frames, || {
            if let Some(f) = halfway {
                sim.inject(f);
            }
        });
        (sum, records, stats, cfg.profiles.len())
    }

    /// A DMA fault (an IOMMU fault) in the middle of the traffic: the drain task recovers
    /// the device by reset and reprogramming, and the traffic goes on. Every packet the
    /// device keyed is in exactly one drained record or in the drop counters, per profile
    /// (counters carried over the reset); every record written was drained once.
    #[test]
    fn a_dma_fault_is_recovered_and_every_packet_accounted() {
        let Some(frames) = all_traffic() else {
            return;
        };
        let (sum, records, stats, n) = faulted_drain(frames, None, Some(Fault::DmaFault));
        assert_eq!(sum.recoveries, 1, "{sum:?}");
        let dropped = assert_accounted("DMA fault", &records, &stats, n);
        assert!(
            dropped.iter().all(|d| *d > 0),
            "the failed write and the tables' contents are counted as drops: {dropped:?}"
        );
        assert_each_record_once("DMA fault", &records, &stats, n);
        assert!(
            stats.global(GlobalStat::Ipv6Packets) > 0 && records.len() as u64 > sum.recoveries,
            "traffic went on after the recovery"
        );
    }

    /// A device that faults on every DMA write (its ring withdrawn from its IOMMU domain):
    /// the drain task recovers it a few times, then gives up with a typed error instead
    /// of resetting it forever, and the traffic source sees the task end.
    #[test]
    fn a_device_that_keeps_failing_is_given_up() {
        let Some(frames) = all_traffic() else {
            return;
        };
        let sim = SharedSim::new();
        let mut be = sim.clone();
        let dev = Device::bring_up(Box::new(sim.clone()), &tables(), &short_timers(), 6).unwrap();
        let iova = u64::from(be.read32(regs::RING_BASE_LO.offset).unwrap())
            | u64::from(be.read32(regs::RING_BASE_HI.offset).unwrap()) << 32;
        be.unmap_dma(iova, dev.ring().memory().len()).unwrap();
        let shared = Arc::new(Mutex::new(dev));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (tx, mut rx) = mpsc::channel(64);
        let (stop_tx, stop_rx) = watch::channel(false);
        let cfg = DrainConfig {
            poll_interval: std::time::Duration::from_millis(1),
            ..DrainConfig::default()
        };
        let task = rt.spawn(drain::run(shared.clone(), None, cfg, tx, stop_rx));
        rt.spawn(async move { while rx.recv().await.is_some() {} });
        // Offer the traffic until the task ends (or, failing that, stop it at the end).
        for chunk in frames.chunks(64) {
            if task.is_finished() {
                break;
            }
            let mut next = 0;
            while next < chunk.len() && !task.is_finished() {
                let taken = {
                    let mut d = drain::lock(&shared);
                    d.backend()
                        .traffic()
                        .unwrap()
                        .offer(&chunk[next..])
                        .unwrap()
                };
                next += taken;
                if taken == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            }
        }
        let _ = stop_tx.send(true);
        let r = rt.block_on(task).unwrap();
        assert!(
            matches!(
                r,
                Err(DrainError::Device(DeviceError::Unrecoverable {
                    code: 1,
                    attempts: drain::MAX_RECOVERY_STREAK
                }))
            ),
            "{r:?}"
        );
    }

    /// A device gone from the bus (every read all ones): the drain task stops with a
    /// device error instead of draining garbage, and a new instance refuses to attach.
    #[test]
    fn a_removed_device_ends_the_drain_task() {
        if all_traffic().is_none() {
            return;
        }
        let sim = SharedSim::new();
        let (dev, _) = running(&sim);
        sim.inject(Fault::Removed);
        let shared = Arc::new(Mutex::new(dev));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (tx, _rx) = mpsc::channel(64);
        let (_stop_tx, stop_rx) = watch::channel(false);
        let r = rt.block_on(drain::run(
            shared.clone(),
            None,
            DrainConfig::default(),
            tx,
            stop_rx,
        ));
        assert!(
            matches!(r, Err(DrainError::Device(DeviceError::NotAnswering))),
            "{r:?}"
        );
        let dev = Arc::try_unwrap(shared).ok().unwrap().into_inner().unwrap();
        let Err(refused) = Device::attach(dev.detach(), &short_timers()) else {
            panic!("attached to a removed device");
        };
        assert!(
            matches!(refused.error, DeviceError::Identity(_)),
            "{}",
            refused.error
        );
    }

    /// Interrupt messages lost by the device itself (causes still set): polling drains
    /// everything.
    #[test]
    fn lost_interrupt_messages_are_covered_by_polling() {
        let Some(frames) = all_traffic() else {
            return;
        };
        let (sum, records, stats, n) = faulted_drain(frames, Some(Fault::LostInterrupts), None);
        assert_eq!(sum.interrupts, 0, "{sum:?}");
        assert!(sum.polls > 0);
        assert_conserved("lost messages", &records, &stats, n);
        assert_each_record_once("lost messages", &records, &stats, n);
    }

    /// The device clock jumps an hour in the middle of the traffic: flows age out at once,
    /// and still every packet and byte is drained once, per key as the reference has them.
    #[test]
    fn a_clock_jump_loses_nothing() {
        let Some(frames) = all_traffic() else {
            return;
        };
        let (first, second) = frames.split_at(frames.len() / 2);
        let sim = SharedSim::new();
        let (cfg, tables) = (all_modes(), tables());
        let mut dev = Device::bring_up(Box::new(sim.clone()), &tables, &cfg, 8).unwrap();
        let mut out = Vec::new();
        replay(&mut dev, first, &mut out);
        let before = dev.time_ns().unwrap();
        sim.inject(Fault::ClockJump { seconds: 3600 });
        assert!(dev.time_ns().unwrap() >= before + 3_600_000_000_000);
        replay(&mut dev, second, &mut out);
        dev.flush_and_drain(&mut out, FLUSH_TIMEOUT).unwrap();
        let stats = dev.stats().unwrap();
        let n = cfg.profiles.len();
        assert_conserved("clock jump", &out, &stats, n);
        assert_each_record_once("clock jump", &out, &stats, n);
        assert_eq!(
            packets_bytes(&per_key(&out, n)),
            packets_bytes(&reference_per_key(&reference(&cfg, &tables, frames)))
        );
    }
}

/// A device that is not an nsflow engine of this map (QEMU's `edu`, a newer major version)
/// is refused by every entry point before anything is written to it.
mod wrong_identity {
    use nsflow_driver::backend::{Backend, BackendError};
    use nsflow_driver::device::{Device, DeviceError, IdentityError};
    use nsflow_driver::dma::DmaMemory;
    use nsflow_driver::regcheck::{self, RegcheckError};
    use nsflow_rtl::config::EngineConfig;
    use nsflow_rtl::regs;
    use nsflow_rtl::AggregationMode;
    use std::sync::{Arc, Mutex};
    use vmm_sys_util::eventfd::EventFd;

    /// What a backend was asked to do that changes a device: BAR writes and DMA mappings.
    type Writes = Arc<Mutex<Vec<String>>>;

    /// Reads `id` at ID_MAGIC and ID_VERSION, the default build's capabilities in the rest
    /// of the identification block and 0 elsewhere; records every write.
    struct Recording {
        id: (u32, u32),
        writes: Writes,
    }

    fn recording(magic: u32, version: u32) -> (Box<dyn Backend>, Writes) {
        let writes = Writes::default();
        let be = Recording {
            id: (magic, version),
            writes: writes.clone(),
        };
        (Box::new(be), writes)
    }

    impl Backend for Recording {
        fn describe(&self) -> String {
            "recording backend".into()
        }
        fn read32(&mut self, offset: u32) -> Result<u32, BackendError> {
            Ok(match offset {
                o if o == regs::ID_MAGIC.offset => self.id.0,
                o if o == regs::ID_VERSION.offset => self.id.1,
                o => regs::REGISTERS
                    .iter()
                    .find(|r| r.block == "id" && r.offset == o)
                    .map_or(0, |r| r.reset()),
            })
        }
        fn write32(&mut self, offset: u32, value: u32) -> Result<(), BackendError> {
            self.writes
                .lock()
                .unwrap()
                .push(format!("write {value:#x} at {offset:#x}"));
            Ok(())
        }
        fn map_dma(&mut self, mem: &DmaMemory) -> Result<u64, BackendError> {
            self.writes
                .lock()
                .unwrap()
                .push(format!("map {} bytes", mem.len()));
            Ok(0x1000_0000)
        }
        fn unmap_dma(&mut self, _iova: u64, _len: usize) -> Result<(), BackendError> {
            Ok(())
        }
        fn irq(&self) -> Option<&EventFd> {
            None
        }
        fn set_dma_address_width(&mut self, bits: u32) -> Result<(), BackendError> {
            self.writes
                .lock()
                .unwrap()
                .push(format!("dma width {bits}"));
            Ok(())
        }
        fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
            self
        }
    }

    /// QEMU's `edu` device: ID 0x010000ed at offset 0.
    const EDU_ID: u32 = 0x0100_00ed;

    /// The map's magic with a major version one above this driver's.
    fn next_major() -> u32 {
        regs::field::ID_VERSION::major.set(0, regs::VERSION_MAJOR + 1)
    }

    #[test]
    fn regcheck_refuses_a_wrong_id_before_writing() {
        let (mut be, writes) = recording(EDU_ID, 0);
        let err = regcheck::run(be.as_mut()).unwrap_err();
        assert!(
            matches!(
                err,
                RegcheckError::Identity(IdentityError::Magic {
                    read: EDU_ID,
                    expected: regs::MAGIC
                })
            ),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("0x010000ed") && msg.contains("0x4e53464c"),
            "{msg}"
        );
        assert_eq!(*writes.lock().unwrap(), Vec::<String>::new());

        let (mut be, writes) = recording(regs::MAGIC, next_major());
        let err = regcheck::run(be.as_mut()).unwrap_err();
        assert!(
            matches!(
                err,
                RegcheckError::Identity(IdentityError::Version { major, .. })
                    if major == regs::VERSION_MAJOR + 1
            ),
            "{err}"
        );
        assert_eq!(*writes.lock().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn bring_up_refuses_a_wrong_id_before_writing() {
        let cfg = EngineConfig::with_modes(&AggregationMode::ALL);
        let tables = nsflow_rtl::tables::Tables::default();
        for (magic, version) in [
            (EDU_ID, 0),
            (regs::MAGIC, next_major()),
            (u32::MAX, u32::MAX),
        ] {
            let (be, writes) = recording(magic, version);
            let Err(err) = Device::bring_up(be, &tables, &cfg, 8) else {
                panic!("brought up a device reading ID {magic:#x}");
            };
            assert!(matches!(err, DeviceError::Identity(_)), "{err}");
            assert_eq!(
                *writes.lock().unwrap(),
                Vec::<String>::new(),
                "ID {magic:#x} {version:#x}: {err}"
            );
        }
    }

    /// The control: with the right identity the writes follow, reset first.
    #[test]
    fn the_right_id_passes_to_the_writes() {
        let (be, writes) = recording(regs::MAGIC, regs::ID_VERSION.reset());
        let cfg = EngineConfig::with_modes(&AggregationMode::ALL);
        let _ = Device::bring_up(be, &nsflow_rtl::tables::Tables::default(), &cfg, 8);
        let writes = writes.lock().unwrap();
        let reset = regs::field::CTRL::soft_reset.mask();
        assert_eq!(
            writes.first(),
            Some(&format!("write {reset:#x} at {:#x}", regs::CTRL.offset)),
            "{writes:?}"
        );
    }
}

/// The driver's vfio-user client against servers that misbehave: small fake servers on a
/// socket of their own (silent, garbage, an error reply, a huge size, a connection closed
/// mid-request, a reply to another request), and a real server that serves another
/// client. Every connection or request must fail within a bound, with
/// `BackendError::VfioUser` naming the request and saying why — through the backend and
/// through `nsflow regcheck`. Before, each of these hung until killed (the `vfio_user`
/// crate's client had no timeout), or aborted on the huge size.
mod hostile_server {
    use nsflow_driver::backend::vfio_user::VfioUserBackend;
    use nsflow_driver::backend::{Backend, BackendError};
    use nsflow_rtl::msix::{self, Msix};
    use nsflow_rtl::regs;
    use nsflow_rtl::vfio_user::{
        errno, flags, Command, DeviceInfo, Header, IrqInfo, RegionInfo, Reply, Request,
        DEVICE_FLAGS_PCI, HEADER_BYTES, IRQ_INFO_EVENTFD, REGION_READ_WRITE,
    };
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;
    use std::path::{Path, PathBuf};
    use std::process::Command as Process;
    use std::time::{Duration, Instant};

    /// The timeout the tests give the client.
    const TIMEOUT: Duration = Duration::from_millis(500);

    /// What a fake server does with one request.
    enum Answer {
        /// These bytes.
        Send(Vec<u8>),
        /// Nothing (and it reads on).
        Silence,
        /// It closes the connection.
        Close,
    }

    /// A fake server: accepts one client and answers each request with `answer`.
    struct Fake {
        _dir: tempfile::TempDir,
        path: PathBuf,
    }

    impl Fake {
        fn start(mut answer: impl FnMut(&Header, &[u8]) -> Answer + Send + 'static) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("fake.sock");
            let listener = UnixListener::bind(&path).unwrap();
            std::thread::spawn(move || {
                let Ok((mut s, _)) = listener.accept() else {
                    return;
                };
                loop {
                    let mut head = [0u8; HEADER_BYTES];
                    if s.read_exact(&mut head).is_err() {
                        return;
                    }
                    let h = Header::decode(&head);
                    let mut body = vec![0u8; h.body_len().unwrap()];
                    if s.read_exact(&mut body).is_err() {
                        return;
                    }
                    match answer(&h, &body) {
                        Answer::Send(b) => {
                            if s.write_all(&b).is_err() {
                                return;
                            }
                        }
                        Answer::Silence => {}
                        Answer::Close => return,
                    }
                }
            });
            Self { _dir: dir, path }
        }
    }

    /// The configuration space region (`VFIO_PCI_CONFIG_REGION_INDEX`).
    const CONFIG: u32 = 7;
    /// The MSI-X interrupt index (`VFIO_PCI_MSIX_IRQ_INDEX`).
    const MSIX: u32 = 2;

    /// A configuration space whose one capability is the map's MSI-X.
    fn config_space() -> Vec<u8> {
        let mut c = vec![0u8; 256];
        c[msix::STATUS] = msix::STATUS_CAP_LIST as u8;
        c[msix::CAP_POINTER] = 0x40;
        c[0x40..0x40 + msix::CAP_BYTES].copy_from_slice(&Msix::CONTRACT.encode(0, 0));
        c
    }

    /// What a device with BAR0, the traffic port and the map's MSI-X (capability, BAR4,
    /// vectors) answers.
    fn honest(h: &Header, body: &[u8]) -> Vec<u8> {
        let region = |index: u32, size: u64| {
            Reply::RegionInfo(RegionInfo {
                flags: if size > 0 { REGION_READ_WRITE } else { 0 },
                index,
                size,
                offset: 0,
            })
        };
        let reply = match Request::decode(h, body).unwrap() {
            Request::Version { .. } => {
                return Reply::Version {
                    major: 0,
                    minor: 1,
                    caps: "{}",
                }
                .encode(h.id)
            }
            Request::DeviceGetInfo => Reply::DeviceInfo(DeviceInfo {
                flags: DEVICE_FLAGS_PCI,
                num_regions: 9,
                num_irqs: 5,
            }),
            Request::RegionInfo { index: 0, .. } => region(0, regs::BAR0_SIZE.into()),
            Request::RegionInfo { index: 2, .. } => region(2, 1 << 20),
            Request::RegionInfo { index, .. } if index == u32::from(regs::MSIX_BAR) => {
                region(index, regs::MSIX_BAR_SIZE.into())
            }
            Request::RegionInfo { index: CONFIG, .. } => region(CONFIG, 256),
            Request::RegionInfo { index, .. } => region(index, 0),
            Request::IrqInfo { index } => Reply::IrqInfo(IrqInfo {
                flags: if index == MSIX { IRQ_INFO_EVENTFD } else { 0 },
                index,
                count: if index == MSIX {
                    regs::MSIX_VECTORS.into()
                } else {
                    0
                },
            }),
            Request::SetIrqs(_) => Reply::SetIrqs,
            Request::RegionRead(a) if a.region == CONFIG => {
                let start = a.offset as usize;
                let data = &config_space()[start..start + a.count as usize];
                return Reply::RegionRead(a, data).encode(h.id);
            }
            Request::RegionRead(a) => {
                let data = if a.offset == u64::from(regs::ID_MAGIC.offset) {
                    regs::MAGIC.to_le_bytes().to_vec()
                } else {
                    vec![0; a.count as usize]
                };
                return Reply::RegionRead(a, &data).encode(h.id);
            }
            Request::RegionWrite(a, _) => Reply::RegionWrite(a),
            r => panic!("unexpected {r:?}"),
        };
        reply.encode(h.id)
    }

    /// Whether `h` (with `body`) is a request of the handshake: anything before the first
    /// access to a BAR (configuration space is read to find the MSI-X capability).
    fn handshake(h: &Header, body: &[u8]) -> bool {
        match Request::decode(h, body) {
            Ok(Request::RegionRead(a)) => a.region == CONFIG,
            Ok(Request::RegionWrite(..)) => false,
            _ => true,
        }
    }

    /// Connects the backend; returns its error and how long it took.
    fn refused(path: &Path) -> (String, Duration) {
        let t = Instant::now();
        match VfioUserBackend::connect_with_timeout(path, TIMEOUT) {
            Ok(_) => panic!("connected to a misbehaving server"),
            Err(e @ BackendError::VfioUser { .. }) => (e.to_string(), t.elapsed()),
            Err(e) => panic!("not a vfio-user error: {e}"),
        }
    }

    fn assert_quick(what: &str, took: Duration) {
        assert!(took < TIMEOUT * 6, "{what}: took {took:?}");
    }

    #[test]
    fn a_silent_server_times_out_saying_so() {
        let fake = Fake::start(|_, _| Answer::Silence);
        let (e, took) = refused(&fake.path);
        assert!(
            e.contains("(VERSION)") && e.contains("no reply within 500ms"),
            "{e}"
        );
        assert!(e.contains("serving another client"), "{e}");
        assert!(took >= TIMEOUT, "{took:?}");
        assert_quick(&e, took);
    }

    #[test]
    fn garbage_a_huge_size_and_a_reply_to_another_request_are_malformed() {
        let garbage =
            Fake::start(|_, _| Answer::Send(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()));
        let (e, took) = refused(&garbage.path);
        assert!(
            e.contains("(VERSION)") && e.contains("malformed reply"),
            "{e}"
        );
        assert_quick(&e, took);
        // A reply claiming 4 GiB: refused by its size, nothing allocated or awaited.
        let huge = Fake::start(|h, _| {
            let reply = Header {
                id: h.id,
                command: h.command,
                size: 0xFFFF_FFF0,
                flags: flags::REPLY,
                error: 0,
            };
            Answer::Send(reply.encode().to_vec())
        });
        let (e, took) = refused(&huge.path);
        assert!(e.contains("message size 4294967280"), "{e}");
        assert_quick(&e, took);
        let other = Fake::start(|h, body| {
            let mut b = honest(h, body);
            b[0] ^= 0x55;
            Answer::Send(b)
        });
        let (e, _) = refused(&other.path);
        assert!(e.contains("in answer to Version 0"), "{e}");
    }

    #[test]
    fn an_error_reply_is_the_server_refusing_it() {
        let fake = Fake::start(|h, _| Answer::Send(h.error_reply(errno::EINVAL).to_vec()));
        let (e, took) = refused(&fake.path);
        assert!(
            e.contains("(VERSION)") && e.contains("refused it: errno 22 (EINVAL"),
            "{e}"
        );
        assert_quick(&e, took);
        // After the handshake: the access fails, names itself, and the connection is
        // still usable (an error reply keeps it in step).
        let fake = Fake::start(|h, body| {
            if handshake(h, body) || h.command == Command::RegionWrite as u16 {
                Answer::Send(honest(h, body))
            } else {
                Answer::Send(h.error_reply(errno::EINVAL).to_vec())
            }
        });
        let mut be = VfioUserBackend::connect_with_timeout(&fake.path, TIMEOUT).unwrap();
        let e = be.read32(regs::ID_MAGIC.offset).unwrap_err().to_string();
        assert!(e.contains("BAR0 read at 0x0: the server refused it"), "{e}");
        be.write32(regs::INT_MASK.offset, 0).unwrap();
    }

    #[test]
    fn a_server_that_stops_answering_or_closes_fails_every_later_request_at_once() {
        for close in [false, true] {
            let fake = Fake::start(move |h, body| match (handshake(h, body), close) {
                (true, _) => Answer::Send(honest(h, body)),
                (false, false) => Answer::Silence,
                (false, true) => Answer::Close,
            });
            let mut be = VfioUserBackend::connect_with_timeout(&fake.path, TIMEOUT).unwrap();
            let t = Instant::now();
            let e = be.read32(regs::STATUS.offset).unwrap_err().to_string();
            let why = if close {
                "the server closed the connection"
            } else {
                "no reply within 500ms"
            };
            assert!(e.contains("BAR0 read at 0x") && e.contains(why), "{e}");
            assert_quick(&e, t.elapsed());
            // Out of step: the next request fails at once, with the first error.
            let t = Instant::now();
            let again = be
                .write32(regs::INT_MASK.offset, 0)
                .unwrap_err()
                .to_string();
            assert!(
                again.contains("failed earlier") && again.contains(why),
                "{again}"
            );
            assert!(t.elapsed() < TIMEOUT, "{:?}", t.elapsed());
        }
    }

    #[test]
    fn a_second_client_is_told_another_holds_the_device() {
        let Some(bin) = crate::backend_support::hwsim_binary() else {
            return;
        };
        let first = crate::backend_support::Served::start(&bin);
        let t = Instant::now();
        let Err(e) = VfioUserBackend::connect(&first.socket()) else {
            panic!("two clients connected");
        };
        let e = e.to_string();
        assert!(e.contains("another client holds the device"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }

    /// `nsflow regcheck --device vfio-user:PATH`: its exit status, stderr and time.
    fn regcheck(bin: &Path, path: &Path) -> (std::process::ExitStatus, String, Duration) {
        let t = Instant::now();
        let out = Process::new(bin)
            .args(["regcheck", "--device"])
            .arg(format!("vfio-user:{}", path.display()))
            .output()
            .unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
            t.elapsed(),
        )
    }

    #[test]
    fn regcheck_fails_within_its_timeout_with_a_clear_message() {
        let bin = nsflow_tests::nsflow_binary();
        let silent = Fake::start(|_, _| Answer::Silence);
        let huge = Fake::start(|h, _| {
            let mut b = h.error_reply(0).to_vec();
            b[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
            Answer::Send(b)
        });
        let erring = Fake::start(|h, body| {
            if handshake(h, body) {
                Answer::Send(honest(h, body))
            } else {
                Answer::Send(h.error_reply(errno::EINVAL).to_vec())
            }
        });
        for (fake, says, bound) in [
            (&silent, "no reply within 10s", Duration::from_secs(25)),
            (&huge, "message size 4294967295", Duration::from_secs(10)),
            (
                &erring,
                "the server refused it: errno 22",
                Duration::from_secs(10),
            ),
        ] {
            let (status, err, took) = regcheck(&bin, &fake.path);
            assert!(!status.success(), "{err}");
            assert!(err.contains("vfio-user:") && err.contains(says), "{err}");
            assert!(took < bound, "{says}: {took:?}");
        }
    }
}

/// Declares, for each backend, a module with one `#[test]` per check of the suite.
macro_rules! instantiate {
    ($($backend:ident),+ : $checks:tt) => {
        $(instantiate!(@one $backend $checks);)+
    };
    (@one $backend:ident [$($check:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[test]
                fn $check() {
                    if let Some(new) = crate::backend_support::$backend() {
                        crate::suite::$check(&new);
                    }
                }
            )*
        }
    };
}

instantiate!(sim, vfio_user: [
    bring_up,
    captures_conserve_packets_and_bytes,
    reconfiguration_flushes_and_conserves,
    restart_resumes_exactly_once,
    malicious_ring_writes_stop_the_device,
    lost_interrupts_are_covered_by_polling,
    interrupts_wake_the_drain_task,
    status_errors_are_typed,
    regcheck_passes,
]);

/// The DMA address width a device reports (`CAP_DMA.addr_bits`) bounds the IOVAs the
/// driver gives it: a model built to drive 32 address bits gets its ring below 4 GiB and
/// runs traffic; the same ring placed above would be a bad ring configuration.
mod dma_width {
    use crate::backend_support::*;
    use nsflow_driver::backend::sim::SimBackend;
    use nsflow_driver::backend::Backend;
    use nsflow_driver::device::{Device, DeviceError};
    use nsflow_hwsim::generator::{Generator, GeneratorConfig};
    use nsflow_hwsim::BuildParams;
    use nsflow_rtl::config::EngineConfig;
    use nsflow_rtl::tables::Tables;
    use nsflow_rtl::AggregationMode;

    fn narrow() -> Box<dyn Backend> {
        Box::new(
            SimBackend::new(BuildParams {
                dma_addr_bits: 32,
                ..BuildParams::default()
            })
            .unwrap(),
        )
    }

    #[test]
    fn a_32_bit_engine_gets_its_ring_below_4_gib_and_runs() {
        let cfg = EngineConfig::with_modes(&[AggregationMode::ProtocolPort]);
        let mut dev = Device::bring_up(narrow(), &Tables::default(), &cfg, 10).unwrap();
        assert_eq!(dev.identity().dma_addr_bits, 32);
        let frames: Vec<_> = Generator::new(GeneratorConfig {
            flows: 20,
            rate_pps: 100_000,
            duration_ns: 10_000_000,
            ..GeneratorConfig::default()
        })
        .collect();
        let mut out = Vec::new();
        replay(&mut dev, &frames, &mut out);
        dev.shutdown(&mut out, FLUSH_TIMEOUT).unwrap();
        let packets: u64 = out.iter().map(|r| r.packets).sum();
        assert_eq!(packets, frames.len() as u64);
    }

    #[test]
    fn the_window_does_not_move_under_a_mapping() {
        // The default IOVA window starts at 4 GiB: a driver that ignored CAP_DMA would
        // place the ring there (the engine refuses such a ring: hwsim's ring tests).
        let mut be = narrow();
        let mem = nsflow_driver::dma::DmaMemory::new(128 << 4).unwrap();
        let iova = be.map_dma(&mem).unwrap_or(0);
        assert!(iova >= 1 << 32, "{iova:#x}");
        let cfg = EngineConfig::with_modes(&[AggregationMode::ProtocolPort]);
        // Bring-up narrows the window first: the map above is still outstanding, so the
        // driver refuses to move the window instead of giving the device an IOVA it
        // cannot reach.
        let err = Device::bring_up(be, &Tables::default(), &cfg, 4).err();
        assert!(matches!(err, Some(DeviceError::Backend(_))), "{err:?}");
    }
}

/// The vfio-user backend reads the server's MSI-X capability from configuration space:
/// it states the register map's vector count and the BAR and offsets of the table and PBA
/// (a disagreement is `BackendError::Msix`: the backend's unit tests).
mod msix {
    use crate::backend_support::{self, Served};
    use nsflow_rtl::msix::Msix;
    use nsflow_rtl::regs;

    #[test]
    fn the_server_states_the_msix_layout_of_the_map() {
        let Some(new) = backend_support::vfio_user() else {
            return;
        };
        let mut be = new();
        let served = be.as_any_mut().downcast_mut::<Served>().unwrap();
        let m = served.msix();
        assert_eq!(m, Msix::CONTRACT);
        assert_eq!(
            (
                m.vectors,
                m.table_bar,
                m.table_offset,
                m.pba_bar,
                m.pba_offset
            ),
            (
                regs::MSIX_VECTORS,
                regs::MSIX_BAR,
                regs::MSIX_TABLE_OFFSET,
                regs::MSIX_BAR,
                regs::MSIX_PBA_OFFSET
            )
        );
        assert!(be.irq().is_some());
    }
}
