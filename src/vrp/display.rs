//! `display current-configuration`: the canonical VRP text of a configuration. Fixed order
//! (one section per VPN instance in name order, the system view, then one section per
//! aggregation view in mode order), defaults omitted,
//! `#` between sections, `return` at the end. Every line is a command that parses back to
//! the setting it shows, so reading the text back gives the same configuration.
//! `display this` shows one view's section in the same form ([`render_view`]).
#![deny(clippy::indexing_slicing)]

use super::command::View;
use super::model::{
    ActiveTimeout, AggregationConfig, AggregationSetting, Config, Direction, ExportChange,
    FieldWidth, MplsAware, SystemConfig, SystemSetting, Version, ViewExport, VpnInstance,
    VpnSetting,
};
use nsflow_rtl::AggregationMode;
use std::fmt;
use std::net::IpAddr;

/// The configuration as `display current-configuration` prints it.
pub fn render(config: &Config) -> String {
    let mut out = String::from("#\n");
    for (name, vpn) in &config.vpn_instances {
        out.push_str(&vpn_section(name, vpn));
    }
    out.push_str(&system_section(config));
    for (mode, agg) in &config.aggregations {
        out.push_str(&aggregation_section(*mode, agg));
    }
    out.push_str("return\n");
    out
}

/// What `display this` prints in `view`: that view's section of `config` (nothing when
/// the view is not configured), between `#` and `return`.
pub fn render_view(config: &Config, view: &View) -> String {
    let section = match view {
        View::User => String::new(),
        View::System => system_section(config),
        View::Aggregation(mode) => config
            .aggregations
            .get(mode)
            .map(|agg| aggregation_section(*mode, agg))
            .unwrap_or_default(),
        View::VpnInstance(name) => config
            .vpn_instances
            .get(name)
            .map(|vpn| vpn_section(name, vpn))
            .unwrap_or_default(),
    };
    format!("#\n{section}return\n")
}

/// The system view's lines, each ending in a newline, then `#`; nothing when every
/// setting is at its default.
fn system_section(config: &Config) -> String {
    let lines = system_lines(&config.system);
    if lines.is_empty() {
        return String::new();
    }
    let mut out: String = lines.into_iter().map(|l| l + "\n").collect();
    out.push_str("#\n");
    out
}

/// `ipv6 netstream aggregation MODE`, the view's lines indented by one space, then `#`.
fn aggregation_section(mode: AggregationMode, agg: &AggregationConfig) -> String {
    section(
        &format!("ipv6 netstream aggregation {mode}"),
        aggregation_lines(agg),
    )
}

/// `ip vpn-instance NAME`, its settings that are not defaults indented by one space, `#`.
fn vpn_section(name: &str, vpn: &VpnInstance) -> String {
    section(
        &format!("ip vpn-instance {name}"),
        changed(vpn.settings(), VpnInstance::default().settings()),
    )
}

/// A view's section: the line entering it, its lines indented by one space, then `#`.
fn section(head: &str, lines: Vec<String>) -> String {
    let mut out = format!("{head}\n");
    for l in lines {
        out.push(' ');
        out.push_str(&l);
        out.push('\n');
    }
    out.push_str("#\n");
    out
}

/// The settings that differ from their defaults, then the export lines.
fn system_lines(s: &SystemConfig) -> Vec<String> {
    let mut lines = changed(s.settings(), SystemConfig::default().settings());
    lines.extend(export_lines(&s.export));
    lines
}

/// The settings that differ from their defaults, then the export lines.
fn aggregation_lines(a: &AggregationConfig) -> Vec<String> {
    let mut lines = changed(a.settings(), AggregationConfig::default().settings());
    lines.extend(export_lines(&a.export));
    lines
}

/// The settings that differ from their defaults, in their fixed order.
fn changed<T: PartialEq + std::fmt::Display, const N: usize>(
    settings: [T; N],
    defaults: [T; N],
) -> Vec<String> {
    settings
        .into_iter()
        .zip(defaults)
        .filter(|(v, d)| v != d)
        .map(|(v, _)| v.to_string())
        .collect()
}

/// Sources (IPv4, then IPv6), then hosts in configuration order.
fn export_lines(v: &ViewExport) -> Vec<String> {
    [v.source.v4, v.source.v6]
        .into_iter()
        .flatten()
        .map(|s| ExportChange::SetSource {
            addr: s.addr,
            port: s.port,
        })
        .chain(v.hosts.iter().cloned().map(ExportChange::AddHost))
        .map(|c| c.to_string())
        .collect()
}

/// `ipv6 ` before an IPv6 address, nothing before an IPv4 one.
fn family(addr: &IpAddr) -> &'static str {
    if addr.is_ipv6() {
        "ipv6 "
    } else {
        ""
    }
}

impl fmt::Display for ExportChange {
    /// The command that makes this change.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AddHost(h) => {
                write!(
                    f,
                    "ipv6 netstream export host {}{} {}",
                    family(&h.addr),
                    h.addr,
                    h.port
                )?;
                if let Some(v) = &h.vpn_instance {
                    write!(f, " vpn-instance {v}")?;
                }
                if h.dscp != 0 {
                    write!(f, " dscp {}", h.dscp)?;
                }
                Ok(())
            }
            Self::RemoveHost {
                addr,
                port,
                vpn_instance,
            } => {
                write!(
                    f,
                    "undo ipv6 netstream export host {}{addr} {port}",
                    family(addr)
                )?;
                if let Some(v) = vpn_instance {
                    write!(f, " vpn-instance {v}")?;
                }
                Ok(())
            }
            Self::SetSource { addr, port } => {
                write!(f, "ipv6 netstream export source {}{addr}", family(addr))?;
                if let Some(p) = port {
                    write!(f, " {p}")?;
                }
                Ok(())
            }
            Self::RemoveSource(addr) => {
                write!(
                    f,
                    "undo ipv6 netstream export source {}{addr}",
                    family(addr)
                )
            }
        }
    }
}

impl fmt::Display for ActiveTimeout {
    /// `MIN` or `interval-second S`, as after `timeout active`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Minutes(m) => write!(f, "{m}"),
            Self::Seconds(s) => write!(f, "interval-second {s}"),
        }
    }
}

/// `16` or `32`, as after `as-mode` and `index-switch`.
fn width_word(w: FieldWidth) -> &'static str {
    match w {
        FieldWidth::Two => "16",
        FieldWidth::Four => "32",
    }
}

impl fmt::Display for MplsAware {
    /// The keyword of `ipv6 netstream mpls-aware`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::LabelOnly => "label-only",
            Self::IpOnly => "ip-only",
            Self::LabelAndIp => "label-and-ip",
        })
    }
}

/// `9` or `ipfix`, as after `export version`.
fn version_word(v: Version) -> &'static str {
    match v {
        Version::V9 => "9",
        Version::Ipfix => "ipfix",
    }
}

impl fmt::Display for Direction {
    /// `source` or `destination`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Source => "source",
            Self::Destination => "destination",
        })
    }
}

impl fmt::Display for SystemSetting {
    /// The system-view command that sets this value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OriginalActive(t) => write!(f, "ipv6 netstream timeout active {t}"),
            Self::OriginalInactive(s) => write!(f, "ipv6 netstream timeout inactive {s}"),
            Self::AsMode(w) => write!(f, "ipv6 netstream as-mode {}", width_word(*w)),
            Self::IndexSwitch(w) => {
                write!(f, "ipv6 netstream export index-switch {}", width_word(*w))
            }
            Self::MplsAware(m) => write!(f, "ipv6 netstream mpls-aware {m}"),
            Self::SequenceFixed(on) => write!(
                f,
                "{}ipv6 netstream export template sequence-number fixed",
                if *on { "" } else { "undo " }
            ),
            Self::OptionRefreshRate(p) => {
                write!(f, "ipv6 netstream export template option refresh-rate {p}")
            }
            Self::OptionTimeoutRate(t) => {
                write!(f, "ipv6 netstream export template option timeout-rate {t}")
            }
            Self::AggregationActive(t) => {
                write!(f, "ipv6 netstream aggregation timeout active {t}")
            }
            Self::AggregationInactive(s) => {
                write!(f, "ipv6 netstream aggregation timeout inactive {s}")
            }
        }
    }
}

impl fmt::Display for VpnSetting {
    /// The VPN-instance-view command that sets this value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VrfDevice(Some(d)) => write!(f, "vrf-device {d}"),
            Self::VrfDevice(None) => f.write_str("undo vrf-device"),
        }
    }
}

impl fmt::Display for AggregationSetting {
    /// The aggregation-view command that sets this value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Enable(true) => f.write_str("enable"),
            Self::Enable(false) => f.write_str("undo enable"),
            Self::ExportVersion(v) => write!(f, "export version {}", version_word(*v)),
            Self::TemplateTimeoutRate(t) => write!(f, "template timeout-rate {t}"),
            Self::Mask(d, Some(l)) => write!(f, "mask {d} minimum {l}"),
            Self::Mask(d, None) => write!(f, "undo mask {d} minimum"),
        }
    }
}
