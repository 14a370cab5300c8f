//! The one programming path: an engine configuration and tables as the BAR0 writes that
//! program them ([`engine_writes`], [`table_writes`], [`ring_writes`]), and the registers
//! read back into the configuration they hold ([`EngineRegs`]).
//!
//! The driver applies these writes over its backend, the test harness over the model's
//! BAR, and the model decodes its register file with [`EngineRegs`]: the mapping between
//! configuration and registers is written once, here, and so are the hardware limits it
//! enforces ([`LimitError`]: what a field cannot hold is refused, never clamped).

use crate::config::{EngineConfig, ProfileConfig};
use crate::key::FieldSelect;
use crate::mode::AggregationMode;
use crate::regs::{self, field, window_op, IntBits, PrefixMin, ProfCtrl, RouteMeta};
use crate::tables::{Tables, IFACE_ENTRIES, LABEL_ENTRIES, ROUTE_ENTRIES};

/// One BAR0 write: offset and value.
pub type Write = (u32, u32);

/// A configuration the hardware cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// More profiles than the device has.
    #[error("{wanted} aggregation profiles configured, the device has {have}")]
    TooManyProfiles {
        /// Profiles configured.
        wanted: usize,
        /// Profiles the device implements.
        have: u32,
    },
    /// A timer beyond its register's field.
    #[error("{what} of {value} s does not fit the {bits}-bit seconds register (at most {max} s)")]
    Seconds {
        /// Which timer.
        what: &'static str,
        /// The value asked for.
        value: u32,
        /// The field's width.
        bits: u8,
        /// The largest value it holds.
        max: u32,
    },
    /// A prefix minimum longer than an IPv6 address.
    #[error("a prefix minimum of {0} bits is longer than an IPv6 address (at most 128)")]
    PrefixMinimum(u8),
    /// A field-select mask with bits the key does not define.
    #[error("field-select mask {0:#x} selects fields the key does not have")]
    FieldSelect(u32),
}

/// The largest value `f` holds.
const fn field_max(f: &regs::Field) -> u32 {
    f.mask() >> f.lsb
}

/// `value` for seconds field `f`, or why it does not fit.
fn seconds(f: &regs::Field, value: u32, what: &'static str) -> Result<u32, LimitError> {
    if value > field_max(f) {
        return Err(LimitError::Seconds {
            what,
            value,
            bits: f.width,
            max: field_max(f),
        });
    }
    Ok(f.set(0, value))
}

/// Checks `c` against a device with `profiles` profiles: every limit [`engine_writes`]
/// enforces, without producing the writes (for a commit that only wants the verdict).
pub fn check_engine(c: &EngineConfig, profiles: u32) -> Result<(), LimitError> {
    engine_writes(c, profiles).map(|_| ())
}

/// The writes that program the original-flow timers and one profile slot per configured
/// profile, in slot order; slots beyond the configuration are disabled. Each profile's
/// control register (enable, mode) is written last, after its settings.
pub fn engine_writes(c: &EngineConfig, profiles: u32) -> Result<Vec<Write>, LimitError> {
    if c.profiles.len() > profiles as usize {
        return Err(LimitError::TooManyProfiles {
            wanted: c.profiles.len(),
            have: profiles,
        });
    }
    let mut w = vec![
        (
            regs::ORIG_ACTIVE.offset,
            seconds(
                &field::ORIG_ACTIVE::seconds,
                c.orig_active_s,
                "original-flow active timeout",
            )?,
        ),
        (
            regs::ORIG_INACTIVE.offset,
            seconds(
                &field::ORIG_INACTIVE::seconds,
                c.orig_inactive_s,
                "original-flow inactive timeout",
            )?,
        ),
        (
            regs::ORIG_CTRL.offset,
            field::ORIG_CTRL::fin_rst_aging.set(0, u32::from(c.fin_rst_aging)),
        ),
    ];
    for p in 0..profiles {
        match c.profiles.get(p as usize) {
            Some(pc) => profile_writes(&mut w, p, pc)?,
            None => w.push((regs::PROF_CTRL.at(p), 0)),
        }
    }
    Ok(w)
}

/// The writes of one enabled profile slot.
fn profile_writes(w: &mut Vec<Write>, p: u32, pc: &ProfileConfig) -> Result<(), LimitError> {
    if pc.select.0 & !FieldSelect::DEFINED.0 != 0 {
        return Err(LimitError::FieldSelect(pc.select.0));
    }
    for len in [pc.src_min, pc.dst_min] {
        if len > 128 {
            return Err(LimitError::PrefixMinimum(len));
        }
    }
    let mut min = PrefixMin(0);
    min.set_src(pc.src_min);
    min.set_dst(pc.dst_min);
    let mut ctrl = ProfCtrl(0);
    ctrl.set_mode(pc.mode.index());
    ctrl.set_enable(true);
    w.extend([
        (regs::PROF_FIELDS.at(p), pc.select.0),
        (regs::PROF_PREFIX_MIN.at(p), min.0),
        (
            regs::PROF_ACTIVE.at(p),
            seconds(
                &field::PROF_ACTIVE::seconds,
                pc.active_s,
                "aggregation active timeout",
            )?,
        ),
        (
            regs::PROF_INACTIVE.at(p),
            seconds(
                &field::PROF_INACTIVE::seconds,
                pc.inactive_s,
                "aggregation inactive timeout",
            )?,
        ),
        (regs::PROF_CTRL.at(p), ctrl.0),
    ]);
    Ok(())
}

/// The four 32-bit words of a 128-bit address, word 0 = bits 127:96.
fn words(a: &[u8; 16]) -> impl Iterator<Item = u32> + '_ {
    a.chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
}

/// The writes that load the route, interface and label tables through their windows:
/// the route and label tables are cleared first, then every entry is written.
pub fn table_writes(t: &Tables) -> Vec<Write> {
    let mut w = vec![(regs::ROUTE_CMD.offset, window_op::CLEAR)];
    for i in 0..ROUTE_ENTRIES {
        let Some(r) = t.route(i) else { continue };
        w.push((regs::ROUTE_INDEX.offset, i as u32));
        w.extend(
            (0..4)
                .zip(words(&r.prefix))
                .map(|(k, v)| (regs::ROUTE_PREFIX.at(k), v)),
        );
        w.extend(
            (0..4)
                .zip(words(&r.next_hop))
                .map(|(k, v)| (regs::ROUTE_NEXTHOP.at(k), v)),
        );
        let mut meta = RouteMeta(0);
        meta.set_prefix_len(r.len);
        meta.set_valid(true);
        w.extend([
            (regs::ROUTE_META.offset, meta.0),
            (regs::ROUTE_AS.offset, r.origin_as),
            (regs::ROUTE_OUTIF.offset, r.out_if),
            (regs::ROUTE_CMD.offset, window_op::WRITE),
        ]);
    }
    for vlan in 0..IFACE_ENTRIES as u16 {
        let ifindex = t.ifindex(vlan);
        if ifindex != 0 {
            w.extend([
                (regs::IFACE_INDEX.offset, u32::from(vlan)),
                (regs::IFACE_IFINDEX.offset, ifindex),
                (regs::IFACE_CMD.offset, window_op::WRITE),
            ]);
        }
    }
    w.push((regs::LABEL_CMD.offset, window_op::CLEAR));
    for (i, l) in t.labels().iter().enumerate().take(LABEL_ENTRIES) {
        let value = field::LABEL_VALUE::label.set(0, l.label) | field::LABEL_VALUE::valid.mask();
        w.extend([
            (regs::LABEL_INDEX.offset, i as u32),
            (regs::LABEL_VALUE.offset, value),
            (regs::LABEL_ADDR.offset, l.addr),
            (regs::LABEL_CMD.offset, window_op::WRITE),
        ]);
    }
    w
}

/// The writes that give the device a ring of `1 << log2` records at device address `base`
/// with its producer write-back slot at `writeback`, and unmask every interrupt cause
/// (records, flush done, error, ring full; moderation stays at its reset values).
pub fn ring_writes(base: u64, writeback: u64, log2: u8) -> Vec<Write> {
    let mut unmasked = IntBits(0);
    unmasked.set_records(true);
    unmasked.set_flush_done(true);
    unmasked.set_error(true);
    unmasked.set_ring_full(true);
    vec![
        (regs::RING_BASE_LO.offset, base as u32),
        (regs::RING_BASE_HI.offset, (base >> 32) as u32),
        (regs::RING_WB_LO.offset, writeback as u32),
        (regs::RING_WB_HI.offset, (writeback >> 32) as u32),
        (regs::RING_SIZE.offset, u32::from(log2)),
        (
            regs::INT_MASK.offset,
            regs::INT_MASK.defined_mask() & !unmasked.0,
        ),
    ]
}

/// What one profile slot's registers hold, enabled or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlotRegs {
    /// `PROF_CTRL.enable`: aged original flows are merged into this slot.
    pub enabled: bool,
    /// `PROF_CTRL.mode`: the mode index (documentation only to the datapath).
    pub mode: u8,
    /// `PROF_FIELDS`, reserved bits dropped: the key fields the profile keeps.
    pub select: FieldSelect,
    /// `PROF_PREFIX_MIN.src`: source prefix minimum.
    pub src_min: u8,
    /// `PROF_PREFIX_MIN.dst`: destination prefix minimum.
    pub dst_min: u8,
    /// `PROF_ACTIVE`: aggregate active timeout, seconds.
    pub active_s: u32,
    /// `PROF_INACTIVE`: aggregate inactive timeout, seconds.
    pub inactive_s: u32,
}

/// What the timer and profile registers hold: the engine configuration as the hardware
/// sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EngineRegs {
    /// `ORIG_ACTIVE`: original-flow active timeout, seconds.
    pub orig_active_s: u32,
    /// `ORIG_INACTIVE`: original-flow inactive timeout, seconds.
    pub orig_inactive_s: u32,
    /// `ORIG_CTRL.fin_rst_aging`.
    pub fin_rst_aging: bool,
    /// Every profile slot, in slot order.
    pub slots: Vec<SlotRegs>,
}

/// Why registers read back do not hold an [`EngineConfig`] as [`engine_writes`] writes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadBackError {
    /// An enabled slot after a disabled one (the driver enables slots from 0 up).
    #[error("profile slot {0} is enabled after a disabled one")]
    Gap(u32),
    /// An enabled slot whose mode index names no mode.
    #[error("profile slot {slot} runs unknown mode {mode}")]
    UnknownMode {
        /// The slot.
        slot: u32,
        /// Its mode index.
        mode: u8,
    },
}

impl EngineRegs {
    /// Reads the timer and profile registers of a device with `profiles` slots through
    /// `read` (a BAR read, or the model's register file).
    pub fn read<E>(mut read: impl FnMut(u32) -> Result<u32, E>, profiles: u32) -> Result<Self, E> {
        let mut slots = Vec::with_capacity(profiles as usize);
        for p in 0..profiles {
            let ctrl = ProfCtrl(read(regs::PROF_CTRL.at(p))?);
            let min = PrefixMin(read(regs::PROF_PREFIX_MIN.at(p))?);
            slots.push(SlotRegs {
                enabled: ctrl.enable(),
                mode: ctrl.mode(),
                select: FieldSelect(read(regs::PROF_FIELDS.at(p))? & FieldSelect::DEFINED.0),
                src_min: min.src(),
                dst_min: min.dst(),
                active_s: field::PROF_ACTIVE::seconds.get(read(regs::PROF_ACTIVE.at(p))?),
                inactive_s: field::PROF_INACTIVE::seconds.get(read(regs::PROF_INACTIVE.at(p))?),
            });
        }
        Ok(Self {
            orig_active_s: field::ORIG_ACTIVE::seconds.get(read(regs::ORIG_ACTIVE.offset)?),
            orig_inactive_s: field::ORIG_INACTIVE::seconds.get(read(regs::ORIG_INACTIVE.offset)?),
            fin_rst_aging: field::ORIG_CTRL::fin_rst_aging.get(read(regs::ORIG_CTRL.offset)?) == 1,
            slots,
        })
    }

    /// The indices of the enabled slots, in order: the merge unit's loop.
    pub fn enabled_slots(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&p| self.slots.get(p).is_some_and(|s| s.enabled))
            .collect()
    }

    /// The configuration these registers hold, as [`engine_writes`] writes one: enabled
    /// slots first, in slot order, the rest disabled.
    pub fn config(&self) -> Result<EngineConfig, ReadBackError> {
        let mut c = EngineConfig {
            orig_active_s: self.orig_active_s,
            orig_inactive_s: self.orig_inactive_s,
            fin_rst_aging: self.fin_rst_aging,
            profiles: Vec::new(),
        };
        for (p, s) in (0u32..).zip(&self.slots) {
            if !s.enabled {
                continue;
            }
            if c.profiles.len() != p as usize {
                return Err(ReadBackError::Gap(p));
            }
            let mode = AggregationMode::from_index(s.mode).ok_or(ReadBackError::UnknownMode {
                slot: p,
                mode: s.mode,
            })?;
            c.profiles.push(ProfileConfig {
                mode,
                select: s.select,
                src_min: s.src_min,
                dst_min: s.dst_min,
                active_s: s.active_s,
                inactive_s: s.inactive_s,
            });
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A register file that stores every write, for round trips.
    fn apply(writes: &[Write]) -> HashMap<u32, u32> {
        writes.iter().copied().collect()
    }

    #[test]
    fn every_mode_round_trips_through_the_registers() {
        let mut c = EngineConfig::with_modes(&AggregationMode::ALL);
        c.orig_active_s = 65_535;
        c.orig_inactive_s = 0;
        c.fin_rst_aging = false;
        if let Some(p) = c.profiles.get_mut(3) {
            p.src_min = 48;
            p.dst_min = 128;
            p.active_s = 15;
        }
        let regs = apply(&engine_writes(&c, regs::NUM_PROFILES).unwrap());
        let back = EngineRegs::read(
            |o| Ok::<_, ()>(regs.get(&o).copied().unwrap_or(0)),
            regs::NUM_PROFILES,
        )
        .unwrap();
        assert_eq!(back.config().unwrap(), c);
        assert_eq!(back.enabled_slots().len(), AggregationMode::ALL.len());
    }

    #[test]
    fn what_a_field_cannot_hold_is_refused_not_clamped() {
        let mut c = EngineConfig::with_modes(&[AggregationMode::Prefix]);
        c.orig_active_s = 65_536;
        assert!(matches!(
            engine_writes(&c, 14),
            Err(LimitError::Seconds {
                max: 65_535,
                bits: 16,
                ..
            })
        ));
        let mut c = EngineConfig::with_modes(&[AggregationMode::Prefix]);
        if let Some(p) = c.profiles.first_mut() {
            p.dst_min = 129;
        }
        assert_eq!(engine_writes(&c, 14), Err(LimitError::PrefixMinimum(129)));
        let c = EngineConfig::with_modes(&AggregationMode::ALL);
        assert_eq!(
            check_engine(&c, 13),
            Err(LimitError::TooManyProfiles {
                wanted: 14,
                have: 13
            })
        );
    }

    #[test]
    fn a_gap_or_an_unknown_mode_is_not_a_configuration() {
        let c = EngineConfig::with_modes(&[AggregationMode::As, AggregationMode::VlanId]);
        let mut regs = apply(&engine_writes(&c, 14).unwrap());
        regs.insert(regs::PROF_CTRL.at(0), 0);
        let read = |r: &HashMap<u32, u32>| {
            EngineRegs::read(|o| Ok::<_, ()>(r.get(&o).copied().unwrap_or(0)), 14).unwrap()
        };
        assert_eq!(read(&regs).config(), Err(ReadBackError::Gap(1)));
        regs.insert(regs::PROF_CTRL.at(0), 0x0F01);
        assert_eq!(
            read(&regs).config(),
            Err(ReadBackError::UnknownMode { slot: 0, mode: 15 })
        );
    }
}
