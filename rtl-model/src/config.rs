//! The engine configuration the driver programs: original-flow timers and one profile per
//! enabled aggregation mode. Shared by the reference aggregator, hwsim and the driver so
//! that all three read the same defaults (docs/decisions.md A4, A13, A14).

use crate::key::FieldSelect;
use crate::mode::AggregationMode;
use crate::regs;

/// One aggregation profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileConfig {
    /// The aggregation mode it implements.
    pub mode: AggregationMode,
    /// Field-select mask (normally `mode.field_select()`).
    pub select: FieldSelect,
    /// `mask source minimum` (0 = none).
    pub src_min: u8,
    /// `mask destination minimum` (0 = none).
    pub dst_min: u8,
    /// Aggregate active timeout, seconds.
    pub active_s: u32,
    /// Aggregate inactive timeout, seconds.
    pub inactive_s: u32,
}

impl ProfileConfig {
    /// A profile for `mode` with the default timers (30 min active, 300 s inactive) and
    /// no prefix minima.
    pub fn for_mode(mode: AggregationMode) -> Self {
        Self {
            mode,
            select: mode.field_select(),
            src_min: 0,
            dst_min: 0,
            active_s: regs::PROF_ACTIVE.reset(),
            inactive_s: regs::PROF_INACTIVE.reset(),
        }
    }
}

/// Timers of stage 1 and the enabled profiles of stage 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Original-flow active timeout, seconds.
    pub orig_active_s: u32,
    /// Original-flow inactive timeout, seconds.
    pub orig_inactive_s: u32,
    /// Age original flows on TCP FIN/RST (except on their first packet).
    pub fin_rst_aging: bool,
    /// Enabled profiles, in profile-slot order.
    pub profiles: Vec<ProfileConfig>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            orig_active_s: regs::ORIG_ACTIVE.reset(),
            orig_inactive_s: regs::ORIG_INACTIVE.reset(),
            fin_rst_aging: regs::ORIG_CTRL.reset() & 1 == 1,
            profiles: Vec::new(),
        }
    }
}

impl EngineConfig {
    /// The default timers with one profile per mode given.
    pub fn with_modes(modes: &[AggregationMode]) -> Self {
        Self {
            profiles: modes.iter().map(|m| ProfileConfig::for_mode(*m)).collect(),
            ..Self::default()
        }
    }
}
