//! Build parameters of a modelled device: the capability values a hardware build reports
//! in its `CAP_*` registers, and the timing of its pipeline. Defaults are the contract's
//! default build (the `CAP_*` reset values in `nsflow_rtl::regs`) and timing typical of a
//! 250 MHz FPGA design; docs/hwsim.md explains each knob.

use nsflow_rtl::regs::{self, Field, Register};

/// Largest table the model accepts, log2 of sets (keeps the occupancy bitmaps small).
pub const MAX_SETS_LOG2: u8 = 24;
/// Most ways per set the model accepts (a bucket's ways are tracked in a 32-bit mask).
pub const MAX_WAYS: u8 = 32;
/// Longest table read latency the hazard tracker covers, in cycles.
pub const MAX_TABLE_LATENCY: u32 = 64;

/// Pipeline timing, in core clock cycles unless said otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Cycles from ingress to the parsed header (the parser's pipeline depth).
    pub parser_latency: u32,
    /// Cycles of the route (LPM), interface and label lookups and the key hash.
    pub lookup_latency: u32,
    /// Read latency of a flow-table memory: a read-modify-write of one bucket holds that
    /// bucket for this many cycles (a second access to it waits: a hazard stall).
    pub table_latency: u32,
    /// Packets that may wait between ingress and the stage-1 table beyond the fixed
    /// pipeline stages (the ingress FIFO).
    pub ingress_depth: u32,
    /// Original flows that may wait between stage 1 and the stage-2 merge unit.
    pub flow_queue_depth: u32,
    /// Records that may wait for the DMA engine (the record FIFO).
    pub record_fifo_depth: u32,
    /// Cycles from issuing a DMA write to its data (and the producer index) being visible
    /// in host memory.
    pub dma_latency: u32,
    /// DMA bandwidth in bytes per cycle.
    pub dma_bytes_per_cycle: u32,
    /// Most records one DMA write carries (contiguous ring slots).
    pub dma_burst_records: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            parser_latency: 16,
            lookup_latency: 8,
            table_latency: 8,
            ingress_depth: 32,
            flow_queue_depth: 32,
            record_fifo_depth: 256,
            dma_latency: 200,
            dma_bytes_per_cycle: 32,
            dma_burst_records: 32,
        }
    }
}

/// A hardware build: capabilities, geometry, timing and the backpressure policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildParams {
    /// Core clock in Hz (a whole number of kHz; reported in `CAP_CLOCK`).
    pub clock_hz: u64,
    /// Stage-1 (original-flow) table sets, log2 (`CAP_ORIG_TABLE.sets_log2`).
    pub orig_sets_log2: u8,
    /// Stage-1 ways per set (`CAP_ORIG_TABLE.ways`).
    pub orig_ways: u8,
    /// Stage-2 (aggregation) table sets per profile, log2 (`CAP_AGG_TABLE.sets_log2`).
    pub agg_sets_log2: u8,
    /// Stage-2 ways per set (`CAP_AGG_TABLE.ways`).
    pub agg_ways: u8,
    /// Address bits the DMA engine drives (`CAP_DMA.addr_bits`): a ring or write-back slot
    /// programmed beyond them is a bad ring configuration.
    pub dma_addr_bits: u8,
    /// Largest ring accepted, log2 of entries (`CAP_PROFILES.ring_max_log2`).
    pub ring_max_log2: u8,
    /// Pipeline timing.
    pub timing: Timing,
    /// Backpressure policy when the record FIFO is full. `false` (hold): the engine holds
    /// — the merge unit, then stage 1, then ingress stall, and `Device::offer` asks the
    /// caller to retry; nothing is dropped. `true` (drop): the record is dropped and
    /// counted in the profile's `drop_records/flows/packets/bytes`; ingress never stalls
    /// on the ring.
    pub drop_on_full: bool,
}

impl Default for BuildParams {
    fn default() -> Self {
        Self {
            clock_hz: u64::from(regs::field::CAP_CLOCK::khz.reset) * 1000,
            orig_sets_log2: regs::field::CAP_ORIG_TABLE::sets_log2.reset as u8,
            orig_ways: regs::field::CAP_ORIG_TABLE::ways.reset as u8,
            agg_sets_log2: regs::field::CAP_AGG_TABLE::sets_log2.reset as u8,
            agg_ways: regs::field::CAP_AGG_TABLE::ways.reset as u8,
            ring_max_log2: regs::field::CAP_PROFILES::ring_max_log2.reset as u8,
            dma_addr_bits: regs::field::CAP_DMA::addr_bits.reset as u8,
            timing: Timing::default(),
            drop_on_full: false,
        }
    }
}

/// Why a set of build parameters describes no device the model can build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A parameter outside its range.
    #[error("build parameter {name} = {value} is outside {range}")]
    Range {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: u64,
        /// The accepted range.
        range: String,
    },
}

fn check(name: &'static str, value: u64, lo: u64, hi: u64) -> Result<(), BuildError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(BuildError::Range {
            name,
            value,
            range: format!("{lo}..={hi}"),
        })
    }
}

impl BuildParams {
    /// Checks every parameter. The FIFOs must hold what one step can produce: the flow
    /// queue a whole stage-1 bucket (a scanner visit) and two flows (one packet), the
    /// record FIFO a whole stage-2 bucket and one record per profile (one merge).
    pub fn validate(&self) -> Result<(), BuildError> {
        let t = &self.timing;
        check("clock_hz", self.clock_hz, 1_000, u64::from(u32::MAX) * 1000)?;
        if self.clock_hz % 1000 != 0 {
            return Err(BuildError::Range {
                name: "clock_hz",
                value: self.clock_hz,
                range: "whole kHz".into(),
            });
        }
        check(
            "orig_sets_log2",
            self.orig_sets_log2.into(),
            0,
            MAX_SETS_LOG2.into(),
        )?;
        check(
            "agg_sets_log2",
            self.agg_sets_log2.into(),
            0,
            MAX_SETS_LOG2.into(),
        )?;
        check("orig_ways", self.orig_ways.into(), 1, MAX_WAYS.into())?;
        check("agg_ways", self.agg_ways.into(), 1, MAX_WAYS.into())?;
        check("dma_addr_bits", self.dma_addr_bits.into(), 32, 64)?;
        check(
            "ring_max_log2",
            self.ring_max_log2.into(),
            regs::RING_MIN_LOG2.into(),
            regs::RING_MAX_LOG2.into(),
        )?;
        check(
            "table_latency",
            t.table_latency.into(),
            1,
            MAX_TABLE_LATENCY.into(),
        )?;
        check(
            "dma_bytes_per_cycle",
            t.dma_bytes_per_cycle.into(),
            1,
            1 << 16,
        )?;
        check("dma_burst_records", t.dma_burst_records.into(), 1, 1 << 16)?;
        check("ingress_depth", t.ingress_depth.into(), 1, 1 << 20)?;
        let flow_min = u64::from(self.orig_ways).max(2);
        check(
            "flow_queue_depth",
            t.flow_queue_depth.into(),
            flow_min,
            1 << 20,
        )?;
        let rec_min = u64::from(self.agg_ways).max(u64::from(regs::NUM_PROFILES));
        check(
            "record_fifo_depth",
            t.record_fifo_depth.into(),
            rec_min,
            1 << 20,
        )?;
        Ok(())
    }

    /// The value a build-parameter field of a `CAP_*` register reports for this build, or
    /// `None` for fields that are not build parameters of the model (`field` of `reg`, as
    /// the register map's typed constants name them).
    pub(crate) fn cap_field(&self, reg: &Register, field: &Field) -> Option<u32> {
        use regs::field as f;
        let is = |r: &Register, x: &Field| reg == r && field == x;
        let v = if is(&regs::CAP_CLOCK, &f::CAP_CLOCK::khz) {
            (self.clock_hz / 1000) as u32
        } else if is(&regs::CAP_ORIG_TABLE, &f::CAP_ORIG_TABLE::sets_log2) {
            self.orig_sets_log2.into()
        } else if is(&regs::CAP_ORIG_TABLE, &f::CAP_ORIG_TABLE::ways) {
            self.orig_ways.into()
        } else if is(&regs::CAP_AGG_TABLE, &f::CAP_AGG_TABLE::sets_log2) {
            self.agg_sets_log2.into()
        } else if is(&regs::CAP_AGG_TABLE, &f::CAP_AGG_TABLE::ways) {
            self.agg_ways.into()
        } else if is(&regs::CAP_PROFILES, &f::CAP_PROFILES::ring_max_log2) {
            self.ring_max_log2.into()
        } else if is(&regs::CAP_DMA, &f::CAP_DMA::addr_bits) {
            self.dma_addr_bits.into()
        } else {
            return None;
        };
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_register_map_and_validate() {
        let p = BuildParams::default();
        assert_eq!(p.clock_hz, 250_000_000);
        assert_eq!((p.orig_sets_log2, p.orig_ways), (17, 8));
        assert_eq!((p.agg_sets_log2, p.agg_ways), (16, 8));
        assert_eq!(p.ring_max_log2, 20);
        p.validate().unwrap();
        // Every (register, field) pair cap_field knows exists in the map as a build param.
        for r in regs::REGISTERS {
            for f in r.fields {
                if p.cap_field(r, f).is_some() {
                    assert!(f.build_param, "{}.{}", r.name, f.name);
                }
            }
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        let bad = [
            BuildParams {
                orig_ways: 0,
                ..BuildParams::default()
            },
            BuildParams {
                clock_hz: 1_500,
                ..BuildParams::default()
            },
            BuildParams {
                ring_max_log2: 21,
                ..BuildParams::default()
            },
            BuildParams {
                timing: Timing {
                    record_fifo_depth: 4,
                    ..Timing::default()
                },
                ..BuildParams::default()
            },
        ];
        for p in bad {
            assert!(p.validate().is_err(), "{p:?}");
        }
    }
}
