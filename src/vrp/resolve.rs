//! The resolved views the rest of nsflow needs from a configuration: the device programming
//! ([`EngineConfig`]: original-flow timers, one profile per enabled mode), one
//! [`ExportConfig`] per enabled mode with precedence A1 (hosts) and A2 (source) applied
//! ([`super::precedence`]), the warnings `commit` gives, and the [`Diff`] between two
//! configurations.
#![deny(clippy::indexing_slicing)]

use super::model::{AggregationConfig, Collector, Config};
use super::precedence::{effective_export, EffectiveExport};
use nsflow_exporter::ExportConfig;
use nsflow_rtl::config::{EngineConfig, ProfileConfig};
use nsflow_rtl::AggregationMode;
use std::fmt;

/// Something `commit` accepts but the operator should know: records that go nowhere. The
/// text is the message without VRP's `Warning: `, which whoever shows it puts first.
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
                "aggregation {m}: no ipv6 netstream export source in this view or the system view; nothing is exported"
            ),
            Self::NoHosts(m) => write!(
                f,
                "aggregation {m}: no ipv6 netstream export host in this view or the system view; nothing is exported"
            ),
            Self::HostWithoutSource(m, h) => write!(
                f,
                "aggregation {m}: export host {} {} gets nothing: no IPv{} export source is configured",
                h.addr,
                h.port,
                if h.addr.is_ipv4() { 4 } else { 6 }
            ),
            Self::AggregationHostsIgnored(m) => write!(
                f,
                "aggregation {m}: the export hosts of this view are not used; the system view's hosts take precedence"
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
            orig_active_s: s.original_active.seconds().into(),
            orig_inactive_s: s.original_inactive_s.into(),
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
            active_s: self.system.aggregation_active.seconds().into(),
            inactive_s: self.system.aggregation_inactive_s.into(),
            ..ProfileConfig::for_mode(mode)
        }
    }

    /// The hosts and sources `mode` uses after precedence (A1, A2), when its view exists
    /// and is enabled.
    pub fn effective_export(&self, mode: AggregationMode) -> Option<EffectiveExport> {
        let a = self.aggregations.get(&mode).filter(|a| a.enabled)?;
        Some(effective_export(&self.system.export, &a.export))
    }

    /// The exporter configuration of `mode`, when its view exists and is enabled: the
    /// hosts after A1 that have a source of their family (the others get nothing, as
    /// `commit` warns), each with the VRF device of its VPN instance (`vrf-device`), the
    /// sources after A2 (a source without a port sends from 40000),
    /// the view's format and template timeout-rate, the system view's sequence numbering,
    /// field widths, options refresh and aggregation timers, the mode's template
    /// announced at start, and one observation domain per mode (1 + mode index).
    pub fn export_config(&self, mode: AggregationMode) -> Option<ExportConfig> {
        let a = self.aggregations.get(&mode).filter(|a| a.enabled)?;
        let s = &self.system;
        let effective = effective_export(&s.export, &a.export);
        let collectors = effective
            .hosts
            .iter()
            .filter(|h| effective.reaches(h))
            .map(|h| Collector {
                vrf_device: h
                    .vpn_instance
                    .as_ref()
                    .and_then(|name| self.vpn_instances.get(name))
                    .and_then(|vpn| vpn.vrf_device.clone()),
                ..h.clone()
            })
            .collect();
        Some(ExportConfig {
            version: a.version,
            modes: vec![mode],
            template_timeout_minutes: a.template_timeout_min,
            sequence_fixed: s.sequence_fixed,
            as_width: s.as_mode,
            ifindex_width: s.index_switch,
            options_refresh_packets: s.option_refresh_packets,
            options_refresh_minutes: s.option_timeout_min,
            observation_domain: 1 + u32::from(mode.index()),
            active_timeout_secs: s.aggregation_active.seconds(),
            inactive_timeout_secs: s.aggregation_inactive_s,
            ..ExportConfig::new(collectors, effective.source)
        })
    }

    /// The exporter configuration of every enabled mode, with the mode, in mode order.
    pub fn export_configs(&self) -> Vec<(AggregationMode, ExportConfig)> {
        self.enabled_modes()
            .filter_map(|(m, _)| Some((m, self.export_config(m)?)))
            .collect()
    }

    /// Whether `mode` exports the same in `self` and `other`: the same exporter
    /// configuration and the same hosts after precedence (a host without a source is
    /// configured though it receives nothing; changing it is a change of the export).
    pub fn same_export(&self, other: &Config, mode: AggregationMode) -> bool {
        self.export_config(mode) == other.export_config(mode)
            && self.effective_export(mode) == other.effective_export(mode)
    }

    /// What `commit` warns about: enabled modes whose records reach no collector, fully or
    /// for some hosts, and aggregation-view hosts overridden by the system view.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut w = Vec::new();
        for (mode, a) in self.enabled_modes() {
            let e = effective_export(&self.system.export, &a.export);
            if !a.export.hosts.is_empty() && a.export.hosts != e.hosts {
                w.push(Warning::AggregationHostsIgnored(mode));
            }
            if e.source.is_empty() {
                w.push(Warning::NoSource(mode));
            } else {
                for h in e.hosts.iter().filter(|h| !e.reaches(h)) {
                    w.push(Warning::HostWithoutSource(mode, h.clone()));
                }
            }
            if e.hosts.is_empty() {
                w.push(Warning::NoHosts(mode));
            }
        }
        w
    }
}

/// What a commit changed, so that the caller applies only the difference: modes whose
/// profile is added, removed or reprogrammed (flush their flows first), and modes whose
/// device programming is unchanged but whose export changed ([`Config::same_export`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diff {
    /// The original-flow timers changed.
    pub original_timers: bool,
    /// Modes newly enabled.
    pub added: Vec<AggregationMode>,
    /// Modes no longer enabled (disabled or deleted).
    pub removed: Vec<AggregationMode>,
    /// Modes enabled before and after whose profile (mask minima, timers) changed; their
    /// export may have changed too.
    pub reprogrammed: Vec<AggregationMode>,
    /// Modes enabled before and after with the same profile but another export.
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
                (Some(_), Some(_)) if !old.same_export(new, mode) => d.export_only.push(mode),
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
