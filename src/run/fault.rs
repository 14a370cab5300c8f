//! Faults injected into a run (`nsflow run --fault KIND@FRAMES`): after that many frames
//! the replay thread injects a device fault into the in-process model, stalls the ring
//! consumer, floods the flow tables, or restarts the driver — so that operators and tests can watch the whole
//! pipeline keep its promise (every packet in one exported record or in an exported drop
//! counter) while things fail. docs/reliability.md lists what each one does.

use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use nsflow_hwsim::Fault;
use std::time::Duration;

/// What to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `dma`: the next DMA write fails (IOMMU fault); the device enters its error state and
    /// the driver recovers it by reset and reprogramming.
    Dma,
    /// `lost-irq`: the device delivers no interrupt from now on; polling drains.
    LostInterrupts,
    /// `clock-jump=SECONDS`: device time jumps forward.
    ClockJump(u32),
    /// `removed`: the device stops answering (all-ones reads); the run ends with an error
    /// after exporting everything it drained.
    Removed,
    /// `ring-stall=MS`: the driver stops consuming the ring for MS milliseconds (a ring-full
    /// storm: the device holds records back, and the traffic waits).
    RingStall(Duration),
    /// `table-flood=N`: N single-packet flows from random sources are offered at once
    /// (table-full: the engine evicts for room).
    TableFlood(u32),
    /// `restart`: the driver restarts mid-stream: a new instance takes the running device
    /// up where the old one left it ([`nsflow_driver::device::Device::restart`]).
    Restart,
}

/// A fault and when: after `frames` frames offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultAt {
    /// Frames offered before the fault.
    pub frames: u64,
    /// The fault.
    pub kind: FaultKind,
}

/// A `--fault` specification that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--fault {spec}: {reason} (expected KIND@FRAMES, KIND one of dma, lost-irq, clock-jump=SECONDS, removed, ring-stall=MS, table-flood=N, restart)")]
pub struct FaultSpecError {
    /// The specification.
    pub spec: String,
    /// What is wrong.
    pub reason: String,
}

/// Parses `KIND@FRAMES` (`@FRAMES` may be left out: at the start).
pub fn parse_fault(spec: &str) -> Result<FaultAt, FaultSpecError> {
    let err = |reason: &str| FaultSpecError {
        spec: spec.to_owned(),
        reason: reason.to_owned(),
    };
    let (kind, frames) = match spec.split_once('@') {
        Some((k, f)) => (
            k,
            f.trim()
                .parse::<u64>()
                .map_err(|_| err("FRAMES is not a whole number"))?,
        ),
        None => (spec, 0),
    };
    let (name, value) = match kind.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (kind.trim(), None),
    };
    let number = |what: &str| -> Result<u64, FaultSpecError> {
        value
            .ok_or_else(|| err(&format!("{name} needs ={what}")))?
            .parse::<u64>()
            .map_err(|_| err(&format!("{what} is not a whole number")))
    };
    let no_value = |k: FaultKind| match value {
        None => Ok(k),
        Some(_) => Err(err(&format!("{name} takes no value"))),
    };
    let kind = match name {
        "dma" => no_value(FaultKind::Dma)?,
        "lost-irq" => no_value(FaultKind::LostInterrupts)?,
        "removed" => no_value(FaultKind::Removed)?,
        "restart" => no_value(FaultKind::Restart)?,
        "clock-jump" => FaultKind::ClockJump(
            u32::try_from(number("SECONDS")?).map_err(|_| err("SECONDS must be below 2^32"))?,
        ),
        "ring-stall" => {
            let ms = number("MS")?;
            if ms > 600_000 {
                return Err(err("MS must be at most 600000 (10 minutes)"));
            }
            FaultKind::RingStall(Duration::from_millis(ms))
        }
        "table-flood" => FaultKind::TableFlood(
            u32::try_from(number("N")?)
                .ok()
                .filter(|n| (1..=10_000_000).contains(n))
                .ok_or_else(|| err("N must be 1..10000000"))?,
        ),
        _ => return Err(err(&format!("unknown fault `{name}`"))),
    };
    Ok(FaultAt { frames, kind })
}

impl FaultKind {
    /// The model fault this injects, if it is one.
    pub fn device_fault(self) -> Option<Fault> {
        match self {
            FaultKind::Dma => Some(Fault::DmaFault),
            FaultKind::LostInterrupts => Some(Fault::LostInterrupts),
            FaultKind::ClockJump(seconds) => Some(Fault::ClockJump { seconds }),
            FaultKind::Removed => Some(Fault::Removed),
            FaultKind::RingStall(_) | FaultKind::TableFlood(_) | FaultKind::Restart => None,
        }
    }
}

/// The frames of a table flood: `flows` single-packet flows from random sources, 1 ns
/// apart from `ts_ns` (the time of the frame before), 64-byte TCP.
pub fn flood(flows: u32, ts_ns: u64, seed: u64) -> Generator {
    Generator::new(GeneratorConfig {
        seed,
        flows,
        sizes: vec![(64, 1)],
        rate_pps: 1_000_000_000,
        start_ns: ts_ns,
        duration_ns: u64::from(flows),
        tcp_percent: 100,
        random_sources: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_with_its_frame_count() {
        let cases = [
            ("dma@100", 100, FaultKind::Dma),
            ("lost-irq", 0, FaultKind::LostInterrupts),
            ("clock-jump=3600@5", 5, FaultKind::ClockJump(3600)),
            ("removed@7", 7, FaultKind::Removed),
            (
                "ring-stall=250@9",
                9,
                FaultKind::RingStall(Duration::from_millis(250)),
            ),
            ("table-flood=20000@1", 1, FaultKind::TableFlood(20_000)),
            ("restart@2", 2, FaultKind::Restart),
        ];
        for (spec, frames, kind) in cases {
            assert_eq!(parse_fault(spec), Ok(FaultAt { frames, kind }), "{spec}");
        }
    }

    #[test]
    fn bad_specifications_say_what_is_wrong() {
        for (spec, reason) in [
            ("dma@x", "FRAMES is not a whole number"),
            ("dma=1@1", "dma takes no value"),
            ("clock-jump@1", "clock-jump needs =SECONDS"),
            ("clock-jump=99999999999", "SECONDS must be below 2^32"),
            (
                "ring-stall=600001",
                "MS must be at most 600000 (10 minutes)",
            ),
            ("table-flood=0", "N must be 1..10000000"),
            ("melt@3", "unknown fault `melt`"),
        ] {
            let e = parse_fault(spec).unwrap_err();
            assert_eq!(e.reason, reason, "{spec}");
            assert!(e.to_string().contains("expected KIND@FRAMES"), "{e}");
        }
    }
}
