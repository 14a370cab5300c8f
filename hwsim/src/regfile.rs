//! BAR0 storage and access rules, derived from `nsflow_rtl::regs` (never hand-copied):
//! every instance of `all_registers()` gets its reset value (build-parameter fields from
//! the build), the masks of its RW, W1C and WO fields, and a [`Kind`] telling the device
//! which side effect or live value belongs to it.
//!
//! Rules (the register map's conventions): reserved bits read 0 and ignore writes; WO
//! fields read 0 and a write of 1 is a one-cycle pulse; W1C bits clear where 1 is
//! written; RO registers ignore writes. A write to an unknown offset, to an RO register,
//! or with bits set outside the writable fields is counted once in `UNKNOWN_ACCESS`.

use crate::params::BuildParams;
use nsflow_rtl::regs::{
    self, all_registers, global_stat, profile_stat, Access, GlobalStat, ProfileStat, Register,
    BAR0_SIZE, NUM_PROFILES, PROFILE_BASE, PROFILE_STRIDE,
};

/// What a register is to the device: plain storage, or a live value / side effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Stored value, no side effect (identification, windows' data, ring addresses…).
    Plain,
    /// `CTRL`.
    Ctrl,
    /// `STATUS` (live).
    Status,
    /// `FLUSH_COUNT` (live).
    FlushCount,
    /// `UNKNOWN_ACCESS` (live).
    UnknownAccess,
    /// `TIME_LO` (live; reading latches `TIME_HI`).
    TimeLo,
    /// A stage-1 timer or control (`ORIG_*`), or a profile's configuration (`PROF_CTRL`,
    /// `PROF_FIELDS`, `PROF_PREFIX_MIN`, `PROF_ACTIVE`, `PROF_INACTIVE`).
    EngineConfig,
    /// `SCAN_CTRL`.
    ScanCtrl,
    /// `INT_STATUS` (W1C).
    IntStatus,
    /// `INT_MASK`.
    IntMask,
    /// `INT_MOD_RECORDS`, `INT_MOD_TIME`.
    IntModeration,
    /// `RING_SIZE` (writing resets the indices).
    RingSize,
    /// `RING_PROD` (live).
    RingProd,
    /// `RING_CONS` (the consumer doorbell).
    RingCons,
    /// `ROUTE_CMD`.
    RouteCmd,
    /// `IFACE_CMD`.
    IfaceCmd,
    /// `LABEL_CMD`.
    LabelCmd,
    /// `PROF_OCCUPANCY[p]` (live).
    ProfOccupancy(u8),
    /// Half of global statistic `index` (latched).
    GlobalStat {
        /// Index of its `GlobalStat`.
        index: u8,
        /// Upper half.
        hi: bool,
    },
    /// Half of statistic `index` of `profile` (latched).
    ProfStat {
        /// Profile.
        profile: u8,
        /// Index of its `ProfileStat`.
        index: u8,
        /// Upper half.
        hi: bool,
    },
}

/// One register instance as the device handles it.
#[derive(Debug, Clone)]
pub(crate) struct RegInfo {
    /// Side effect / live value.
    pub kind: Kind,
    /// Value after reset (build parameters applied).
    pub reset: u32,
    /// Bits a read returns (defined fields other than WO).
    pub read_mask: u32,
    /// Bits of RW fields.
    pub rw_mask: u32,
    /// Bits of W1C fields.
    pub w1c_mask: u32,
    /// Bits of WO fields.
    pub wo_mask: u32,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteEffect {
    /// The register's kind.
    pub kind: Kind,
    /// The stored value before the write.
    pub old: u32,
    /// WO bits written as 1 (pulses).
    pub pulse: u32,
    /// The write touched something it may not (count it in `UNKNOWN_ACCESS`).
    pub ignored_bits: bool,
}

fn kind_of(reg: &Register, offset: u32) -> Kind {
    // The register map's own constants identify a register (the whole definition, not
    // its name).
    let is = |r: &Register| r == reg;
    let profile = || ((offset - PROFILE_BASE) / PROFILE_STRIDE) as u8;
    for s in GlobalStat::ALL {
        if offset & !4 == global_stat(*s) {
            return Kind::GlobalStat {
                index: s.index() as u8,
                hi: offset & 4 != 0,
            };
        }
    }
    for p in 0..NUM_PROFILES {
        for s in ProfileStat::ALL {
            if offset & !4 == profile_stat(p, *s) {
                return Kind::ProfStat {
                    profile: p as u8,
                    index: s.index() as u8,
                    hi: offset & 4 != 0,
                };
            }
        }
    }
    if is(&regs::CTRL) {
        Kind::Ctrl
    } else if is(&regs::STATUS) {
        Kind::Status
    } else if is(&regs::FLUSH_COUNT) {
        Kind::FlushCount
    } else if is(&regs::UNKNOWN_ACCESS) {
        Kind::UnknownAccess
    } else if is(&regs::TIME_LO) {
        Kind::TimeLo
    } else if [
        regs::ORIG_ACTIVE,
        regs::ORIG_INACTIVE,
        regs::ORIG_CTRL,
        regs::PROF_CTRL,
        regs::PROF_FIELDS,
        regs::PROF_PREFIX_MIN,
        regs::PROF_ACTIVE,
        regs::PROF_INACTIVE,
    ]
    .iter()
    .any(is)
    {
        Kind::EngineConfig
    } else if is(&regs::SCAN_CTRL) {
        Kind::ScanCtrl
    } else if is(&regs::INT_STATUS) {
        Kind::IntStatus
    } else if is(&regs::INT_MASK) {
        Kind::IntMask
    } else if is(&regs::INT_MOD_RECORDS) || is(&regs::INT_MOD_TIME) {
        Kind::IntModeration
    } else if is(&regs::RING_SIZE) {
        Kind::RingSize
    } else if is(&regs::RING_PROD) {
        Kind::RingProd
    } else if is(&regs::RING_CONS) {
        Kind::RingCons
    } else if is(&regs::ROUTE_CMD) {
        Kind::RouteCmd
    } else if is(&regs::IFACE_CMD) {
        Kind::IfaceCmd
    } else if is(&regs::LABEL_CMD) {
        Kind::LabelCmd
    } else if is(&regs::PROF_OCCUPANCY) {
        Kind::ProfOccupancy(profile())
    } else {
        Kind::Plain
    }
}

/// The register file: one slot per 32-bit word of BAR0.
#[derive(Debug, Clone)]
pub(crate) struct RegFile {
    slot: Vec<Option<u16>>,
    infos: Vec<RegInfo>,
    values: Vec<u32>,
}

impl RegFile {
    /// The register file of a build, at reset values.
    pub(crate) fn new(params: &BuildParams) -> Self {
        let words = (BAR0_SIZE / 4) as usize;
        let mut slot = vec![None; words];
        let mut infos = Vec::new();
        for inst in all_registers() {
            let reg = inst.reg;
            let mut reset = reg.reset();
            for f in reg.fields {
                if let Some(v) = params.cap_field(&reg, f) {
                    reset = f.set(reset, v);
                }
            }
            let info = RegInfo {
                kind: kind_of(&reg, inst.offset),
                reset,
                read_mask: reg.defined_mask() & !reg.access_mask(Access::Wo),
                rw_mask: reg.access_mask(Access::Rw),
                w1c_mask: reg.access_mask(Access::W1c),
                wo_mask: reg.access_mask(Access::Wo),
            };
            if let Some(s) = slot.get_mut((inst.offset / 4) as usize) {
                *s = Some(infos.len() as u16);
                infos.push(info);
            }
        }
        let mut rf = Self {
            slot,
            infos,
            values: vec![0; words],
        };
        rf.reset();
        rf
    }

    /// Every register back to its reset value.
    pub(crate) fn reset(&mut self) {
        for (w, s) in self.slot.iter().enumerate() {
            self.values[w] = s.map_or(0, |i| self.infos[usize::from(i)].reset);
        }
    }

    /// The register at `offset` (None: unaligned, outside BAR0 or not in the map).
    pub(crate) fn info(&self, offset: u32) -> Option<&RegInfo> {
        if offset % 4 != 0 {
            return None;
        }
        let i = (*self.slot.get((offset / 4) as usize)?)?;
        self.infos.get(usize::from(i))
    }

    /// The stored value of the register at `offset` (0 if none).
    pub(crate) fn get(&self, offset: u32) -> u32 {
        self.values.get((offset / 4) as usize).copied().unwrap_or(0)
    }

    /// Stores a value as the hardware does (no access rules): for RO status the device
    /// maintains, or window registers a table read fills.
    pub(crate) fn set(&mut self, offset: u32, value: u32) {
        if let Some(v) = self.values.get_mut((offset / 4) as usize) {
            *v = value;
        }
    }

    /// Sets bits (hardware setting W1C status bits).
    pub(crate) fn set_bits(&mut self, offset: u32, bits: u32) {
        let v = self.get(offset);
        self.set(offset, v | bits);
    }

    /// A software write: RW fields take the value, W1C bits clear where 1 is written, WO
    /// bits become pulses, everything else is ignored. `None` for an offset not in the map.
    pub(crate) fn write(&mut self, offset: u32, value: u32) -> Option<WriteEffect> {
        let info = self.info(offset)?;
        let (kind, rw, w1c, wo) = (info.kind, info.rw_mask, info.w1c_mask, info.wo_mask);
        let writable = rw | w1c | wo;
        let old = self.get(offset);
        let new = (old & !rw & !(value & w1c)) | (value & rw);
        self.set(offset, new);
        Some(WriteEffect {
            kind,
            old,
            pulse: value & wo,
            ignored_bits: writable == 0 || value & !writable != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_register_is_placed_and_classified() {
        let rf = RegFile::new(&BuildParams::default());
        for inst in all_registers() {
            let info = rf.info(inst.offset).unwrap();
            assert_eq!(info.read_mask, inst.reg.defined_mask() & !info.wo_mask);
            assert_eq!(rf.get(inst.offset), info.reset);
            if inst.reg.name == "STAT" {
                assert!(
                    matches!(info.kind, Kind::GlobalStat { .. } | Kind::ProfStat { .. }),
                    "{}",
                    inst.name
                );
            }
        }
        assert!(rf.info(2).is_none());
        assert!(rf.info(BAR0_SIZE).is_none());
        assert!(rf.info(0x03C).is_none());
        assert_eq!(
            rf.info(regs::PROF_OCCUPANCY.at(13)).map(|i| i.kind),
            Some(Kind::ProfOccupancy(13))
        );
    }

    #[test]
    fn write_rules() {
        let mut rf = RegFile::new(&BuildParams::default());
        let is = regs::INT_STATUS.offset;
        rf.set_bits(is, 0b1011);
        let e = rf.write(is, 0b0001).unwrap();
        assert_eq!((e.old, rf.get(is), e.ignored_bits), (0b1011, 0b1010, false));
        let e = rf.write(regs::CTRL.offset, 0xF0 | 0b101).unwrap();
        assert_eq!(
            (rf.get(regs::CTRL.offset), e.pulse, e.ignored_bits),
            (1, 0b100, true)
        );
        assert!(rf.write(regs::ID_MAGIC.offset, 0).unwrap().ignored_bits);
        assert_eq!(rf.get(regs::ID_MAGIC.offset), regs::MAGIC);
    }
}
