//! The resolved views the rest of nsflow needs from a configuration: the device programming
//! ([`EngineConfig`]: original-flow timers, one profile per enabled mode), one
//! [`ExportPlan`] per enabled mode with precedence A1 (hosts) and A2 (source) applied,
//! the warnings `commit` gives, and the [`Diff`] between two configurations.
#![deny(clippy::indexing_slicing)]

use super::model::{AggregationConfig, Collector, Config, ExportSource, FieldWidth, Version};
use nsflow_exporter::effective_export;
use nsflow_rtl::config::{EngineConfig, ProfileConfig};
use nsflow_rtl::AggregationMode;
use std::fmt;
use std::net::SocketAddr;

/// Everything the exporter of one enabled aggregation mode needs, precedence applied (by
/// the exporter's [`effective_export`], the one implementation of A1 and A2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPlan {
    /// The mode.
    pub mode: AggregationMode,
    /// v9 (default) or IPFIX.
    pub version: Version,
    /// Template refresh interval, minutes (default 30).
    pub template_timeout_min: u16,
    /// Collectors after A1: the system view's hosts when it has any, else the aggregation
    /// view's.
    pub hosts: Vec<Collector>,
    /// Sources after A2 (per family: the aggregation view's, else the system view's; a
    /// source without a port sends from 40000).
    pub source: ExportSource,
    /// `ipv6 netstream export template sequence-number fixed` (A6).
    pub sequence_fixed: bool,
    /// AS field width (`as-mode`, A9).
    pub as_width: FieldWidth,
    /// ifIndex field width (`index-switch`, A9).
    pub ifindex_width: FieldWidth,
    /// Options re-sent every this many packets (A15, default 20).
    pub option_refresh_packets: u16,
    /// Options re-sent every this many minutes (A15, default 30).
    pub option_timeout_min: u16,
    /// Aggregation active timeout, seconds, for the timeouts options record (A15).
    pub active_timeout_s: u32,
    /// Aggregation inactive timeout, seconds, for the timeouts options record (A15).
    pub inactive_timeout_s: u32,
}

impl ExportPlan {
    /// The source socket a host is sent from: the source of its address family, if any.
    pub fn source_for(&self, host: &Collector) -> Option<SocketAddr> {
        self.source
            .for_collector(host.addr)
            .map(|s| s.socket_addr())
    }

    /// The hosts that actually receive records, each with its source.
    pub fn destinations(&self) -> Vec<(Collector, SocketAddr)> {
        self.hosts
            .iter()
            .filter_map(|h| self.source_for(h).map(|s| (h.clone(), s)))
            .collect()
    }
}

/// Something `commit` accepts but the operator should know: records that go nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// An enabled mode with no export source in its view or the system view (A2).
    NoSource(AggregationMode),
    /// An enabled mode with no export host in its view or the system view.
    NoHosts(AggregationMode),
    /// A host whose address family has no source: it receives nothing.
    HostWithoutSource(AggregationMode, Collector),
    /// Hosts of an aggregation view that are not used because the system view has hosts
    /// (A1).
    AggregationHostsIgnored(AggregationMode),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSource(m) => write!(
                f,
                "Warning: aggregation {m}: no ipv6 netstream export source in this view or the system view; nothing is exported"
            ),
            Self::NoHosts(m) => write!(
                f,
                "Warning: aggregation {m}: no ipv6 netstream export host in this view or the system view; nothing is exported"
            ),
            Self::HostWithoutSource(m, h) => write!(
                f,
                "Warning: aggregation {m}: export host {} {} gets nothing: no IPv{} export source is configured",
                h.addr,
                h.port,
                if h.addr.is_ipv4() { 4 } else { 6 }
            ),
            Self::AggregationHostsIgnored(m) => write!(
                f,
                "Warning: aggregation {m}: the export hosts of this view are not used; the system view's hosts take precedence"
            ),
        }
    }
}

impl Config {
    /// The device programming: original-flow timers and one profile per enabled mode, in
    /// mode order, with the global aggregation timers and the prefix minima.
    pub fn engine_config(&self) -> EngineConfig {
        let s = &self.system;
        EngineConfig {
            orig_active_s: s.original_active.seconds(),
            orig_inactive_s: u32::from(s.original_inactive_s),
            profiles: self
                .enabled_modes()
                .map(|(mode, a)| self.profile(mode, a))
                .collect(),
            ..EngineConfig::default()
        }
    }

    fn profile(&self, mode: AggregationMode, a: &AggregationConfig) -> ProfileConfig {
        ProfileConfig {
            src_min: a.mask_source.unwrap_or(0),
            dst_min: a.mask_destination.unwrap_or(0),
            active_s: self.system.aggregation_active.seconds(),
            inactive_s: u32::from(self.system.aggregation_inactive_s),
            ..ProfileConfig::for_mode(mode)
        }
    }

    /// The export plan of `mode`, when its view exists and is enabled.
    pub fn export_plan(&self, mode: AggregationMode) -> Option<ExportPlan> {
        let a = self.aggregations.get(&mode).filter(|a| a.enabled)?;
        let s = &self.system;
        let effective = effective_export(&s.export, &a.export);
        Some(ExportPlan {
            mode,
            version: a.version,
            template_timeout_min: a.template_timeout_min,
            hosts: effective.hosts,
            source: effective.source,
            sequence_fixed: s.sequence_fixed,
            as_width: s.as_mode,
            ifindex_width: s.index_switch,
            option_refresh_packets: s.option_refresh_packets,
            option_timeout_min: s.option_timeout_min,
            active_timeout_s: s.aggregation_active.seconds(),
            inactive_timeout_s: u32::from(s.aggregation_inactive_s),
        })
    }

    /// The export plans of every enabled mode, in mode order.
    pub fn export_plans(&self) -> Vec<ExportPlan> {
        self.enabled_modes()
            .filter_map(|(m, _)| self.export_plan(m))
            .collect()
    }

    /// What `commit` warns about: enabled modes whose records reach no collector, fully or
    /// for some hosts, and aggregation-view hosts overridden by the system view.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut w = Vec::new();
        for p in self.export_plans() {
            let own = self.aggregations.get(&p.mode).map(|a| &a.export.hosts);
            if own.is_some_and(|h| !h.is_empty() && *h != p.hosts) {
                w.push(Warning::AggregationHostsIgnored(p.mode));
            }
            if p.source.is_empty() {
                w.push(Warning::NoSource(p.mode));
            } else {
                for h in p.hosts.iter().filter(|h| p.source_for(h).is_none()) {
                    w.push(Warning::HostWithoutSource(p.mode, h.clone()));
                }
            }
            if p.hosts.is_empty() {
                w.push(Warning::NoHosts(p.mode));
            }
        }
        w
    }
}

/// What a commit changed, so that the caller applies only the difference: modes whose
/// profile is added, removed or reprogrammed (flush their flows first), and modes whose
/// device programming is unchanged but whose export plan changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diff {
    /// The original-flow timers changed.
    pub original_timers: bool,
    /// Modes newly enabled.
    pub added: Vec<AggregationMode>,
    /// Modes no longer enabled (disabled or deleted).
    pub removed: Vec<AggregationMode>,
    /// Modes enabled before and after whose profile (mask minima, timers) changed; their
    /// export plan may have changed too.
    pub reprogrammed: Vec<AggregationMode>,
    /// Modes enabled before and after with the same profile but another export plan.
    pub export_only: Vec<AggregationMode>,
}

impl Diff {
    /// The difference from `old` to `new`.
    pub fn between(old: &Config, new: &Config) -> Self {
        let (eo, en) = (old.engine_config(), new.engine_config());
        let mut d = Diff {
            original_timers: (eo.orig_active_s, eo.orig_inactive_s)
                != (en.orig_active_s, en.orig_inactive_s),
            ..Diff::default()
        };
        for mode in AggregationMode::ALL {
            let po = eo.profiles.iter().find(|p| p.mode == mode);
            let pn = en.profiles.iter().find(|p| p.mode == mode);
            match (po, pn) {
                (None, Some(_)) => d.added.push(mode),
                (Some(_), None) => d.removed.push(mode),
                (Some(a), Some(b)) if a != b => d.reprogrammed.push(mode),
                (Some(_), Some(_)) if old.export_plan(mode) != new.export_plan(mode) => {
                    d.export_only.push(mode)
                }
                _ => {}
            }
        }
        d
    }

    /// Whether nothing that reaches the device or an exporter changed.
    pub fn is_empty(&self) -> bool {
        *self == Diff::default()
    }
}

impl fmt::Display for Diff {
    /// One line per kind of change, e.g. `reprogrammed: prefix, source-prefix`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no change");
        }
        let mut lines = Vec::new();
        if self.original_timers {
            lines.push("original-flow timers changed".to_owned());
        }
        for (what, modes) in [
            ("added", &self.added),
            ("removed", &self.removed),
            ("reprogrammed", &self.reprogrammed),
            ("export changed", &self.export_only),
        ] {
            if !modes.is_empty() {
                let names: Vec<&str> = modes.iter().map(|m| m.name()).collect();
                lines.push(format!("{what}: {}", names.join(", ")));
            }
        }
        f.write_str(&lines.join("\n"))
    }
}
