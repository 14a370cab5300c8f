//! The NetStream configuration as data: the system view's settings, one
//! [`AggregationConfig`] per `ipv6 netstream aggregation MODE` view, one [`VpnInstance`]
//! per `ip vpn-instance NAME` view, the export hosts and
//! sources of each view, the parameter ranges as VRP names them (the export settings'
//! ranges come from the exporter's constants, the timer ranges of A4 are the language's
//! own, and a compile-time check holds them within the engine's registers), and the
//! whole-configuration check that `commit` runs ([`Config::validate`]).
//!
//! Every setting is held with its value, defaults included, so that `undo` is "set the
//! default" and two configurations that behave the same compare equal.
#![deny(clippy::indexing_slicing)]

use super::cursor::Limit;
pub use super::precedence::ViewExport;
use nsflow_exporter::config::{
    is_device_name, COLLECTOR_PORTS, DEFAULT_OPTIONS_REFRESH_MINUTES,
    DEFAULT_OPTIONS_REFRESH_PACKETS, DEFAULT_TEMPLATE_TIMEOUT_MINUTES, MAX_COLLECTORS, MAX_DSCP,
    OPTIONS_REFRESH_MINUTES, OPTIONS_REFRESH_PACKETS, TEMPLATE_TIMEOUT_MINUTES,
    VPN_INSTANCE_NAME_LEN, VRF_DEVICE_NAME_LEN,
};
pub use nsflow_exporter::{Collector, ExportSource, FieldWidth, SourceAddr, Version};
use nsflow_rtl::regs::{self, Field};
use nsflow_rtl::AggregationMode;
use std::collections::BTreeMap;
use std::net::IpAddr;

// Export settings: the exporter's ranges (A5, A15, A16), named as VRP names them.

/// Collector and source UDP ports (the exporter's collector ports; VRP also refuses
/// source port 0).
pub const PORT: Limit = Limit::of("UDP port", &COLLECTOR_PORTS);
/// `dscp` of an export host (0 = unmarked, the default; A16).
pub const DSCP: Limit = Limit {
    what: "DSCP",
    min: 0,
    max: MAX_DSCP as u32,
};
/// Length of a `vpn-instance` name (A16).
pub const VPN_NAME: Limit = Limit {
    what: "vpn-instance-name",
    min: *VPN_INSTANCE_NAME_LEN.start() as u32,
    max: *VPN_INSTANCE_NAME_LEN.end() as u32,
};
/// Length of a `vrf-device` name: a Linux network device name.
pub const VRF_DEVICE: Limit = Limit {
    what: "vrf-device",
    min: *VRF_DEVICE_NAME_LEN.start() as u32,
    max: *VRF_DEVICE_NAME_LEN.end() as u32,
};

/// `Ok` when `name` can name a Linux network device (the VRF device of a VPN instance),
/// else the explanation.
pub fn check_vrf_device(name: &str) -> Result<(), String> {
    VRF_DEVICE.check_name(name)?;
    if is_device_name(name) {
        Ok(())
    } else {
        Err(format!(
            "vrf-device `{name}` cannot name a Linux network device: no `/` or `:`, not `.` or `..`"
        ))
    }
}

/// `template timeout-rate`, minutes (A5).
pub const TEMPLATE_MINUTES: Limit = Limit::of("timeout-rate (minutes)", &TEMPLATE_TIMEOUT_MINUTES);
/// `template option timeout-rate`, minutes (A15).
pub const OPTION_MINUTES: Limit = Limit::of("timeout-rate (minutes)", &OPTIONS_REFRESH_MINUTES);
/// `template option refresh-rate P`, packets (A15).
pub const OPTION_PACKETS: Limit = Limit::of("refresh-rate (packets)", &OPTIONS_REFRESH_PACKETS);

// Timers: the language's own ranges (A4).

/// `timeout active MIN`, minutes (A4).
pub const ACTIVE_MINUTES: Limit = Limit {
    what: "active timeout (minutes)",
    min: 1,
    max: 60,
};
/// `timeout active interval-second S`, seconds (A4).
pub const ACTIVE_SECONDS: Limit = Limit {
    what: "active timeout interval-second (seconds)",
    min: 15,
    max: 59,
};
/// `timeout inactive S`, seconds, for aggregated and original flows (A4, §5).
pub const INACTIVE_SECONDS: Limit = Limit {
    what: "inactive timeout (seconds)",
    min: 5,
    max: 600,
};
/// `mask {source|destination} minimum L` (N4).
pub const MASK_LENGTH: Limit = Limit {
    what: "mask length",
    min: 1,
    max: 128,
};

// Hardware limits (rtl-model's register map), checked once, at compile time: every timer
// the ranges above allow fits the engine's seconds registers and is not 0 (the driver
// refuses 0, which would end every entry at its next check), every mask minimum fits the
// prefix-minimum fields, and every mode can have a profile. The driver therefore never
// refuses a configuration `commit` accepted (on a device built with every profile).
const _: () = {
    let active_max = if ACTIVE_MINUTES.max * 60 > ACTIVE_SECONDS.max {
        ACTIVE_MINUTES.max * 60
    } else {
        ACTIVE_SECONDS.max
    };
    assert!(ACTIVE_MINUTES.min > 0 && ACTIVE_SECONDS.min > 0 && INACTIVE_SECONDS.min > 0);
    assert!(fits(regs::ORIG_ACTIVE.fields, active_max));
    assert!(fits(regs::PROF_ACTIVE.fields, active_max));
    assert!(fits(regs::ORIG_INACTIVE.fields, INACTIVE_SECONDS.max));
    assert!(fits(regs::PROF_INACTIVE.fields, INACTIVE_SECONDS.max));
    assert!(fits(regs::PROF_PREFIX_MIN.fields, MASK_LENGTH.max));
    assert!(AggregationMode::ALL.len() <= regs::NUM_PROFILES as usize);
};

/// Whether `value` fits every one of `fields` (a register's fields, by their widths).
const fn fits(fields: &[Field], value: u32) -> bool {
    match fields.split_first() {
        Some((f, rest)) => value <= f.mask() >> f.lsb && fits(rest, value),
        None => true,
    }
}

/// `ipv6 netstream mpls-aware`: what is sampled of MPLS packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MplsAware {
    /// Labels only.
    LabelOnly,
    /// Inner IP only: the default; `mpls-label` aggregation cannot work with it (A12).
    #[default]
    IpOnly,
    /// Labels and inner IP.
    LabelAndIp,
}

/// An active timeout: `timeout active MIN` or `timeout active interval-second S`. The
/// values are bytes, so that [`Self::seconds`] always fits the 16-bit timeout fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActiveTimeout {
    /// Minutes, [`ACTIVE_MINUTES`].
    Minutes(u8),
    /// Seconds, [`ACTIVE_SECONDS`].
    Seconds(u8),
}

impl Default for ActiveTimeout {
    fn default() -> Self {
        Self::Minutes(30)
    }
}

impl ActiveTimeout {
    /// The timeout in seconds (at most 255 minutes: no overflow).
    pub fn seconds(self) -> u16 {
        match self {
            Self::Minutes(m) => u16::from(m) * 60,
            Self::Seconds(s) => u16::from(s),
        }
    }
}

/// Which address `mask … minimum` applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `mask source minimum`.
    Source,
    /// `mask destination minimum`.
    Destination,
}

/// A change to the hosts or sources of a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportChange {
    /// `ipv6 netstream export host …`: add a host, or change the DSCP of the same collector.
    AddHost(Collector),
    /// `undo ipv6 netstream export host [ipv6] ADDR PORT [vpn-instance NAME]`.
    RemoveHost {
        /// Collector address.
        addr: IpAddr,
        /// Collector port.
        port: u16,
        /// VPN instance.
        vpn_instance: Option<String>,
    },
    /// `ipv6 netstream export source {ADDR | ipv6 ADDR} [PORT]`: replaces that family's source.
    SetSource {
        /// Source address; its family selects the slot.
        addr: IpAddr,
        /// Source port.
        port: Option<u16>,
    },
    /// `undo ipv6 netstream export source {ADDR | ipv6 ADDR}`.
    RemoveSource(IpAddr),
}

/// Why a change could not be made to a view.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// A host beyond [`MAX_COLLECTORS`].
    #[error("this view already has {MAX_COLLECTORS} export hosts, the most a view can have; remove one first")]
    TooManyHosts,
    /// `undo` of a host that is not configured.
    #[error("no export host {0} is configured in this view")]
    NoSuchHost(String),
    /// `undo` of a source that is not configured.
    #[error("the export source {0} is not configured in this view")]
    NoSuchSource(IpAddr),
    /// `undo ipv6 netstream aggregation MODE` of a view that does not exist.
    #[error("no ipv6 netstream aggregation {0} view is configured")]
    NoSuchAggregation(AggregationMode),
    /// `undo ip vpn-instance NAME` of an instance that does not exist.
    #[error("no ip vpn-instance {0} is configured")]
    NoSuchVpnInstance(String),
}

/// Whether `h` is the collector at `addr`, `port`, `vpn_instance`: those identify a host;
/// typing it again with another DSCP changes its DSCP.
fn is_host(h: &Collector, addr: IpAddr, port: u16, vpn_instance: &Option<String>) -> bool {
    h.addr == addr && h.port == port && h.vpn_instance == *vpn_instance
}

impl ExportChange {
    /// Applies this change to the hosts and sources of one view.
    pub fn apply_to(&self, view: &mut ViewExport) -> Result<(), ApplyError> {
        match self {
            Self::AddHost(h) => {
                if let Some(old) = view
                    .hosts
                    .iter_mut()
                    .find(|o| is_host(o, h.addr, h.port, &h.vpn_instance))
                {
                    old.dscp = h.dscp;
                } else if view.hosts.len() >= MAX_COLLECTORS {
                    return Err(ApplyError::TooManyHosts);
                } else {
                    view.hosts.push(h.clone());
                }
            }
            Self::RemoveHost {
                addr,
                port,
                vpn_instance,
            } => {
                let before = view.hosts.len();
                view.hosts
                    .retain(|h| !is_host(h, *addr, *port, vpn_instance));
                if view.hosts.len() == before {
                    let vpn = vpn_instance
                        .as_ref()
                        .map_or(String::new(), |v| format!(" vpn-instance {v}"));
                    return Err(ApplyError::NoSuchHost(format!("{addr} {port}{vpn}")));
                }
            }
            Self::SetSource { addr, port } => {
                *family_slot(&mut view.source, *addr) = Some(SourceAddr {
                    addr: *addr,
                    port: *port,
                });
            }
            Self::RemoveSource(addr) => {
                if !take_if(family_slot(&mut view.source, *addr), |s| s.addr == *addr) {
                    return Err(ApplyError::NoSuchSource(*addr));
                }
            }
        }
        Ok(())
    }
}

/// The source slot of `addr`'s family: a view holds one IPv4 and one IPv6 source.
fn family_slot(source: &mut ExportSource, addr: IpAddr) -> &mut Option<SourceAddr> {
    match addr {
        IpAddr::V4(_) => &mut source.v4,
        IpAddr::V6(_) => &mut source.v6,
    }
}

fn take_if<T>(slot: &mut Option<T>, pred: impl Fn(&T) -> bool) -> bool {
    if slot.as_ref().is_some_and(pred) {
        *slot = None;
        true
    } else {
        false
    }
}

/// A setting of the system view. `undo` of a setting is the setting with its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemSetting {
    /// `ipv6 netstream timeout active` (original flows).
    OriginalActive(ActiveTimeout),
    /// `ipv6 netstream timeout inactive S` (original flows).
    OriginalInactive(u16),
    /// `ipv6 netstream as-mode {16|32}`.
    AsMode(FieldWidth),
    /// `ipv6 netstream export index-switch {16|32}`.
    IndexSwitch(FieldWidth),
    /// `ipv6 netstream mpls-aware …`.
    MplsAware(MplsAware),
    /// `ipv6 netstream export template sequence-number fixed`.
    SequenceFixed(bool),
    /// `ipv6 netstream export template option refresh-rate P`.
    OptionRefreshRate(u16),
    /// `ipv6 netstream export template option timeout-rate T`.
    OptionTimeoutRate(u16),
    /// `ipv6 netstream aggregation timeout active` (global aggregation timer).
    AggregationActive(ActiveTimeout),
    /// `ipv6 netstream aggregation timeout inactive S`.
    AggregationInactive(u16),
}

/// A setting of an aggregation view. `undo` of a setting is the setting with its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregationSetting {
    /// `enable`.
    Enable(bool),
    /// `export version {9|ipfix}`.
    ExportVersion(Version),
    /// `template timeout-rate T`.
    TemplateTimeoutRate(u16),
    /// `mask {source|destination} minimum L` (prefix modes only).
    Mask(Direction, Option<u8>),
}

/// The system view's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemConfig {
    /// Original-flow active timeout (default 30 min).
    pub original_active: ActiveTimeout,
    /// Original-flow inactive timeout, seconds (default 30).
    pub original_inactive_s: u16,
    /// AS field width (default 16 bits).
    pub as_mode: FieldWidth,
    /// ifIndex field width (default 16 bits).
    pub index_switch: FieldWidth,
    /// MPLS sampling (default ip-only).
    pub mpls_aware: MplsAware,
    /// IPFIX template sequence numbers fixed (A6; default off).
    pub sequence_fixed: bool,
    /// Options data re-sent every this many packets (default 20).
    pub option_refresh_packets: u16,
    /// Options data re-sent every this many minutes (default 30).
    pub option_timeout_min: u16,
    /// Aggregation active timeout (default 30 min).
    pub aggregation_active: ActiveTimeout,
    /// Aggregation inactive timeout, seconds (default 300).
    pub aggregation_inactive_s: u16,
    /// The system view's hosts and sources.
    pub export: ViewExport,
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            original_active: ActiveTimeout::default(),
            original_inactive_s: 30,
            as_mode: FieldWidth::default(),
            index_switch: FieldWidth::default(),
            mpls_aware: MplsAware::default(),
            sequence_fixed: false,
            option_refresh_packets: DEFAULT_OPTIONS_REFRESH_PACKETS,
            option_timeout_min: DEFAULT_OPTIONS_REFRESH_MINUTES,
            aggregation_active: ActiveTimeout::default(),
            aggregation_inactive_s: 300,
            export: ViewExport::default(),
        }
    }
}

impl SystemConfig {
    /// Applies one setting.
    pub fn apply(&mut self, s: SystemSetting) {
        match s {
            SystemSetting::OriginalActive(t) => self.original_active = t,
            SystemSetting::OriginalInactive(v) => self.original_inactive_s = v,
            SystemSetting::AsMode(w) => self.as_mode = w,
            SystemSetting::IndexSwitch(w) => self.index_switch = w,
            SystemSetting::MplsAware(m) => self.mpls_aware = m,
            SystemSetting::SequenceFixed(b) => self.sequence_fixed = b,
            SystemSetting::OptionRefreshRate(v) => self.option_refresh_packets = v,
            SystemSetting::OptionTimeoutRate(v) => self.option_timeout_min = v,
            SystemSetting::AggregationActive(t) => self.aggregation_active = t,
            SystemSetting::AggregationInactive(v) => self.aggregation_inactive_s = v,
        }
    }

    /// Every setting (export excluded), in the canonical display order.
    pub fn settings(&self) -> [SystemSetting; 10] {
        [
            SystemSetting::OriginalActive(self.original_active),
            SystemSetting::OriginalInactive(self.original_inactive_s),
            SystemSetting::AsMode(self.as_mode),
            SystemSetting::IndexSwitch(self.index_switch),
            SystemSetting::MplsAware(self.mpls_aware),
            SystemSetting::SequenceFixed(self.sequence_fixed),
            SystemSetting::OptionRefreshRate(self.option_refresh_packets),
            SystemSetting::OptionTimeoutRate(self.option_timeout_min),
            SystemSetting::AggregationActive(self.aggregation_active),
            SystemSetting::AggregationInactive(self.aggregation_inactive_s),
        ]
    }
}

/// One `ipv6 netstream aggregation MODE` view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregationConfig {
    /// `enable`: without it the view has no effect.
    pub enabled: bool,
    /// Export format (default v9).
    pub version: Version,
    /// Template refresh interval, minutes (default 30).
    pub template_timeout_min: u16,
    /// `mask source minimum` (prefix modes).
    pub mask_source: Option<u8>,
    /// `mask destination minimum` (prefix modes).
    pub mask_destination: Option<u8>,
    /// The view's hosts and sources.
    pub export: ViewExport,
}

impl Default for AggregationConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            version: Version::default(),
            template_timeout_min: DEFAULT_TEMPLATE_TIMEOUT_MINUTES,
            mask_source: None,
            mask_destination: None,
            export: ViewExport::default(),
        }
    }
}

impl AggregationConfig {
    /// Applies one setting.
    pub fn apply(&mut self, s: AggregationSetting) {
        match s {
            AggregationSetting::Enable(b) => self.enabled = b,
            AggregationSetting::ExportVersion(v) => self.version = v,
            AggregationSetting::TemplateTimeoutRate(v) => self.template_timeout_min = v,
            AggregationSetting::Mask(Direction::Source, l) => self.mask_source = l,
            AggregationSetting::Mask(Direction::Destination, l) => self.mask_destination = l,
        }
    }

    /// Every setting (export excluded), in the canonical display order.
    pub fn settings(&self) -> [AggregationSetting; 5] {
        [
            AggregationSetting::Enable(self.enabled),
            AggregationSetting::ExportVersion(self.version),
            AggregationSetting::TemplateTimeoutRate(self.template_timeout_min),
            AggregationSetting::Mask(Direction::Source, self.mask_source),
            AggregationSetting::Mask(Direction::Destination, self.mask_destination),
        ]
    }
}

/// A setting of an `ip vpn-instance NAME` view. `undo` of a setting is the setting with
/// its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpnSetting {
    /// `vrf-device DEV`: the Linux VRF device of the instance; `None` (the default): the
    /// device named as the instance.
    VrfDevice(Option<String>),
}

/// One `ip vpn-instance NAME` view: a VPN instance export hosts may name, and the Linux
/// VRF device that carries their export.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VpnInstance {
    /// `vrf-device DEV`; `None`: the device named as the instance.
    pub vrf_device: Option<String>,
}

impl VpnInstance {
    /// Applies one setting.
    pub fn apply(&mut self, s: VpnSetting) {
        match s {
            VpnSetting::VrfDevice(d) => self.vrf_device = d,
        }
    }

    /// Every setting, in the canonical display order.
    pub fn settings(&self) -> [VpnSetting; 1] {
        [VpnSetting::VrfDevice(self.vrf_device.clone())]
    }

    /// The VRF device of the instance called `name`.
    pub fn device<'a>(&'a self, name: &'a str) -> &'a str {
        self.vrf_device.as_deref().unwrap_or(name)
    }
}

/// A whole NetStream configuration: what is running, or the candidate being edited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// The system view.
    pub system: SystemConfig,
    /// The aggregation views that exist (enabled or not), by mode.
    pub aggregations: BTreeMap<AggregationMode, AggregationConfig>,
    /// The VPN instances declared (`ip vpn-instance NAME`), by name.
    pub vpn_instances: BTreeMap<String, VpnInstance>,
}

/// A rule `commit` found broken. Commands keep ranges and the host limit by themselves;
/// the range and limit rules catch configurations built in code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// `mpls-label` is enabled while `ipv6 netstream mpls-aware` is ip-only (A12).
    #[error("ipv6 netstream aggregation mpls-label is enabled, but it needs `ipv6 netstream mpls-aware label-only` or `label-and-ip` in the system view (the default, ip-only, samples no labels)")]
    MplsLabelNeedsMplsAware,
    /// More than [`MAX_COLLECTORS`] hosts in a view.
    #[error("{view}: {count} export hosts, at most {MAX_COLLECTORS} per view")]
    TooManyHosts {
        /// The view.
        view: String,
        /// How many hosts it has.
        count: usize,
    },
    /// A value outside its range.
    #[error("{view}: {detail}")]
    OutOfRange {
        /// The view.
        view: String,
        /// What and the range.
        detail: String,
    },
    /// `mask` set in a mode that keys on no prefix.
    #[error("ipv6 netstream aggregation {0}: mask applies only to the prefix modes")]
    MaskInNonPrefixMode(AggregationMode),
    /// An export host names a VPN instance that is not declared.
    #[error("{view}: export host {host} names vpn-instance `{name}`, which does not exist: declare it with `ip vpn-instance {name}` in the system view")]
    UndeclaredVpnInstance {
        /// The view of the host.
        view: String,
        /// The host, `ADDRESS PORT`.
        host: String,
        /// The instance name.
        name: String,
    },
    /// A VPN instance whose VRF device name cannot name a Linux network device (an
    /// instance name too long for one, without `vrf-device`).
    #[error("ip vpn-instance {name}: {detail}; give its VRF device with `vrf-device DEV`")]
    VrfDevice {
        /// The instance name.
        name: String,
        /// Why.
        detail: String,
    },
}

impl Config {
    /// Checks every rule `commit` enforces; all broken rules are returned.
    pub fn validate(&self) -> Result<(), Vec<Violation>> {
        let mut v = Vec::new();
        let sys = &self.system;
        let sys_name = "system view";
        let mut range = |view: &str, limit: &Limit, value: u64| {
            if let Err(detail) = limit.check(value) {
                v.push(Violation::OutOfRange {
                    view: view.to_owned(),
                    detail,
                });
            }
        };
        let mut names = Vec::new();
        for t in [sys.original_active, sys.aggregation_active] {
            match t {
                ActiveTimeout::Minutes(m) => range(sys_name, &ACTIVE_MINUTES, m.into()),
                ActiveTimeout::Seconds(s) => range(sys_name, &ACTIVE_SECONDS, s.into()),
            }
        }
        range(sys_name, &INACTIVE_SECONDS, sys.original_inactive_s.into());
        range(
            sys_name,
            &INACTIVE_SECONDS,
            sys.aggregation_inactive_s.into(),
        );
        range(sys_name, &OPTION_PACKETS, sys.option_refresh_packets.into());
        range(sys_name, &OPTION_MINUTES, sys.option_timeout_min.into());
        let views = std::iter::once((sys_name.to_owned(), &sys.export)).chain(
            self.aggregations
                .iter()
                .map(|(m, a)| (format!("ipv6 netstream aggregation {m}"), &a.export)),
        );
        let mut too_many = Vec::new();
        for (name, export) in views {
            if export.hosts.len() > MAX_COLLECTORS {
                too_many.push(Violation::TooManyHosts {
                    view: name.clone(),
                    count: export.hosts.len(),
                });
            }
            for h in &export.hosts {
                range(&name, &PORT, h.port.into());
                range(&name, &DSCP, h.dscp.into());
                let Some(vpn) = &h.vpn_instance else {
                    continue;
                };
                if let Err(detail) = VPN_NAME.check_name(vpn) {
                    names.push(Violation::OutOfRange {
                        view: name.clone(),
                        detail,
                    });
                } else if !self.vpn_instances.contains_key(vpn) {
                    names.push(Violation::UndeclaredVpnInstance {
                        view: name.clone(),
                        host: format!("{} {}", h.addr, h.port),
                        name: vpn.clone(),
                    });
                }
            }
            let ports = [
                export.source.v4.and_then(|s| s.port),
                export.source.v6.and_then(|s| s.port),
            ];
            for p in ports.into_iter().flatten() {
                range(&name, &PORT, p.into());
            }
        }
        let mut mask_misuse = Vec::new();
        for (mode, a) in &self.aggregations {
            let name = format!("ipv6 netstream aggregation {mode}");
            range(&name, &TEMPLATE_MINUTES, a.template_timeout_min.into());
            for m in [a.mask_source, a.mask_destination].into_iter().flatten() {
                range(&name, &MASK_LENGTH, m.into());
            }
            if !mode.is_prefix_mode() && (a.mask_source.is_some() || a.mask_destination.is_some()) {
                mask_misuse.push(Violation::MaskInNonPrefixMode(*mode));
            }
        }
        for (name, vpn) in &self.vpn_instances {
            if let Err(detail) = VPN_NAME.check_name(name) {
                names.push(Violation::OutOfRange {
                    view: format!("ip vpn-instance {name}"),
                    detail,
                });
            } else if let Err(detail) = check_vrf_device(vpn.device(name)) {
                names.push(Violation::VrfDevice {
                    name: name.clone(),
                    detail,
                });
            }
        }
        v.extend(names);
        v.extend(too_many);
        v.extend(mask_misuse);
        if self.mpls_label_needs_mpls_aware() {
            v.push(Violation::MplsLabelNeedsMplsAware);
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(v)
        }
    }

    fn mpls_label_needs_mpls_aware(&self) -> bool {
        self.system.mpls_aware == MplsAware::IpOnly
            && self
                .aggregations
                .get(&AggregationMode::MplsLabel)
                .is_some_and(|a| a.enabled)
    }

    /// The modes whose views are enabled, in mode order.
    pub fn enabled_modes(&self) -> impl Iterator<Item = (AggregationMode, &AggregationConfig)> {
        self.aggregations
            .iter()
            .filter(|(_, a)| a.enabled)
            .map(|(m, a)| (*m, a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::{Ipv4Addr, Ipv6Addr};

    fn host(last: u8, port: u16) -> Collector {
        Collector::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), port)
    }

    fn apply(v: &mut ViewExport, change: &ExportChange) -> Result<(), ApplyError> {
        change.apply_to(v)
    }

    #[test]
    fn hosts_are_identified_by_address_port_and_vpn() {
        let mut v = ViewExport::default();
        apply(&mut v, &ExportChange::AddHost(host(1, 9995))).unwrap();
        apply(
            &mut v,
            &ExportChange::AddHost(Collector {
                dscp: 10,
                ..host(1, 9995)
            }),
        )
        .unwrap();
        assert_eq!(v.hosts.len(), 1);
        assert_eq!(v.hosts[0].dscp, 10);
        apply(
            &mut v,
            &ExportChange::AddHost(Collector {
                vpn_instance: Some("A".into()),
                ..host(1, 9995)
            }),
        )
        .unwrap();
        assert_eq!(v.hosts.len(), 2);
        for p in 1..=6 {
            apply(&mut v, &ExportChange::AddHost(host(2, p))).unwrap();
        }
        assert_eq!(
            apply(&mut v, &ExportChange::AddHost(host(3, 1))),
            Err(ApplyError::TooManyHosts)
        );
        // Changing an existing host is fine at the limit.
        apply(&mut v, &ExportChange::AddHost(host(2, 1))).unwrap();
        let rm = |port| ExportChange::RemoveHost {
            addr: host(2, 0).addr,
            port,
            vpn_instance: None,
        };
        apply(&mut v, &rm(1)).unwrap();
        assert!(matches!(
            apply(&mut v, &rm(1)),
            Err(ApplyError::NoSuchHost(_))
        ));
        let e = apply(
            &mut v,
            &ExportChange::RemoveHost {
                addr: host(2, 0).addr,
                port: 2,
                vpn_instance: Some("B".into()),
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no export host 127.0.0.2 2 vpn-instance B is configured in this view"
        );
    }

    #[test]
    fn one_source_per_family() {
        let mut v = ViewExport::default();
        let a4: IpAddr = "10.0.0.1".parse().unwrap();
        let b4: IpAddr = "10.0.0.2".parse().unwrap();
        let a6: IpAddr = "::1".parse().unwrap();
        assert!(v.source.is_empty());
        apply(
            &mut v,
            &ExportChange::SetSource {
                addr: a4,
                port: None,
            },
        )
        .unwrap();
        apply(
            &mut v,
            &ExportChange::SetSource {
                addr: b4,
                port: Some(7),
            },
        )
        .unwrap();
        apply(
            &mut v,
            &ExportChange::SetSource {
                addr: a6,
                port: None,
            },
        )
        .unwrap();
        assert_eq!(v.source.v4.unwrap().addr.to_string(), "10.0.0.2");
        assert_eq!(v.source.v4.unwrap().port, Some(7));
        assert_eq!(
            apply(&mut v, &ExportChange::RemoveSource(a4)),
            Err(ApplyError::NoSuchSource(a4))
        );
        apply(&mut v, &ExportChange::RemoveSource(b4)).unwrap();
        apply(&mut v, &ExportChange::RemoveSource(a6)).unwrap();
        assert!(v.source.is_empty());
    }

    #[test]
    fn defaults_and_settings_cover_every_field() {
        let s = SystemConfig::default();
        assert_eq!(s.original_active.seconds(), 1800);
        assert_eq!(ActiveTimeout::Seconds(20).seconds(), 20);
        let mut t = s.clone();
        for x in s.settings() {
            t.apply(x);
        }
        assert_eq!(t, s);
        let a = AggregationConfig::default();
        let mut b = AggregationConfig {
            enabled: true,
            mask_source: Some(3),
            ..a.clone()
        };
        for x in a.settings() {
            b.apply(x);
        }
        assert_eq!(a, b);
    }

    #[test]
    fn validate_reports_every_broken_rule() {
        assert_eq!(Config::default().validate(), Ok(()));
        let mut c = Config::default();
        c.system.original_inactive_s = 4;
        c.system.aggregation_active = ActiveTimeout::Seconds(60);
        c.system.original_active = ActiveTimeout::Minutes(61);
        c.system.option_refresh_packets = 0;
        c.system.option_timeout_min = 3601;
        c.system.export.hosts = (0..9).map(|i| host(1, 100 + i)).collect();
        c.system.export.hosts[0].port = 0;
        c.system.export.hosts[1].dscp = 64;
        c.system.export.hosts[2].vpn_instance = Some(String::new());
        c.system.export.hosts[3].vpn_instance = Some("a b".into());
        c.system.export.source.v6 = Some(SourceAddr {
            addr: Ipv6Addr::LOCALHOST.into(),
            port: Some(0),
        });
        c.aggregations.insert(
            AggregationMode::As,
            AggregationConfig {
                enabled: true,
                template_timeout_min: 0,
                mask_source: Some(0),
                ..AggregationConfig::default()
            },
        );
        c.aggregations.insert(
            AggregationMode::MplsLabel,
            AggregationConfig {
                enabled: true,
                ..AggregationConfig::default()
            },
        );
        let v = c.validate().unwrap_err();
        let out_of_range = v
            .iter()
            .filter(|x| matches!(x, Violation::OutOfRange { .. }))
            .count();
        assert_eq!(out_of_range, 12, "{v:#?}");
        assert!(v.contains(&Violation::TooManyHosts {
            view: "system view".into(),
            count: 9
        }));
        assert!(v.contains(&Violation::MaskInNonPrefixMode(AggregationMode::As)));
        assert!(v.contains(&Violation::MplsLabelNeedsMplsAware));
        c = Config::default();
        c.aggregations.insert(
            AggregationMode::MplsLabel,
            AggregationConfig {
                enabled: true,
                ..AggregationConfig::default()
            },
        );
        c.system.mpls_aware = MplsAware::LabelOnly;
        assert_eq!(c.validate(), Ok(()));
        c.system.mpls_aware = MplsAware::LabelAndIp;
        assert_eq!(c.validate(), Ok(()));
        c.aggregations
            .get_mut(&AggregationMode::MplsLabel)
            .unwrap()
            .enabled = false;
        c.system.mpls_aware = MplsAware::IpOnly;
        assert_eq!(c.validate(), Ok(()), "a disabled mpls-label view is fine");
    }
}
