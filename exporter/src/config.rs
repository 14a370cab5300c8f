//! Export configuration of one aggregation view: format, collectors, source, timers and
//! limits (decisions A1, A2, A5, A6, A9, A15, A16), its validation, and the A1/A2
//! precedence between the system view and the aggregation view.

use nsflow_rtl::AggregationMode;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The export format (`export version { 9 | ipfix }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// NetFlow version 9, RFC 3954 (the product's default for aggregated IPv6 flows).
    V9,
    /// IPFIX, RFC 7011 (header version 10).
    Ipfix,
}

/// Width of the AS (`as-mode 16|32`) or ifIndex (`index-switch 16|32`) fields (A9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldWidth {
    /// 2 octets: the product default. 4-octet ASes are sent as AS_TRANS (23456), ifIndexes
    /// above 65535 as 0.
    Two,
    /// 4 octets.
    Four,
}

impl FieldWidth {
    /// The field length in octets.
    pub const fn octets(self) -> u16 {
        match self {
            Self::Two => 2,
            Self::Four => 4,
        }
    }
}

/// What a template depends on besides the mode: version and the two field widths. A
/// change of format is a template change (templates are re-sent, A5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Format {
    /// v9 or IPFIX.
    pub version: Version,
    /// bgpSourceAsNumber / bgpDestinationAsNumber width.
    pub as_width: FieldWidth,
    /// ingressInterface / egressInterface width.
    pub ifindex_width: FieldWidth,
}

/// UDP source port used when a source address is configured without one (A2).
pub const DEFAULT_SOURCE_PORT: u16 = 40000;
/// At most this many collectors per view (A16).
pub const MAX_COLLECTORS: usize = 8;
/// Smallest accepted path MTU (UDP payload): room for the largest template or record.
pub const MIN_MTU: usize = 256;

/// One `ipv6 netstream export host` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Collector {
    /// Collector address, IPv4 or IPv6.
    pub addr: IpAddr,
    /// Collector UDP port (1–65535).
    pub port: u16,
    /// VPN instance: the Linux VRF device of this name carries the export (SO_BINDTODEVICE).
    pub vpn_instance: Option<String>,
    /// DSCP 0–63 written into the IP TOS / IPv6 Traffic Class (0 = unmarked).
    pub dscp: u8,
}

impl Collector {
    /// A collector at `addr:port` in the default VRF, unmarked.
    pub fn new(addr: IpAddr, port: u16) -> Self {
        Self {
            addr,
            port,
            vpn_instance: None,
            dscp: 0,
        }
    }

    /// The collector's socket address.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }
}

/// One `ipv6 netstream export source` entry: an address and an optional port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceAddr {
    /// Source address.
    pub addr: IpAddr,
    /// Source UDP port; `None` means [`DEFAULT_SOURCE_PORT`]; `Some(0)` lets the kernel pick.
    pub port: Option<u16>,
}

impl SourceAddr {
    /// The socket address to bind: the configured port or 40000 (A2).
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port.unwrap_or(DEFAULT_SOURCE_PORT))
    }
}

/// The sources of one view: at most one IPv4 and one IPv6 address (A16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExportSource {
    /// Source for IPv4 collectors.
    pub v4: Option<SourceAddr>,
    /// Source for IPv6 collectors.
    pub v6: Option<SourceAddr>,
}

impl ExportSource {
    /// The source for a collector at `addr`, by address family.
    pub fn for_collector(&self, addr: IpAddr) -> Option<SourceAddr> {
        match addr {
            IpAddr::V4(_) => self.v4,
            IpAddr::V6(_) => self.v6,
        }
    }

    /// Whether no source is configured at all.
    pub fn is_empty(&self) -> bool {
        self.v4.is_none() && self.v6.is_none()
    }
}

/// The export settings one VRP view holds (system view or an aggregation view), as the
/// configuration parser reads them, before precedence is applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ViewExport {
    /// `ipv6 netstream export host` entries of the view.
    pub hosts: Vec<Collector>,
    /// `ipv6 netstream export source` entries of the view.
    pub source: ExportSource,
}

/// The collectors and sources an aggregation view actually uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveExport {
    /// Where the aggregated records go.
    pub hosts: Vec<Collector>,
    /// The sources to send from.
    pub source: ExportSource,
}

/// Applies decisions A1 and A2.
///
/// * A1 (hosts): when the system view has hosts, aggregated flows go to those; otherwise to
///   the aggregation view's hosts (the product procedure's rule).
/// * A2 (source): the aggregation view's source wins, else the system view's; decided per
///   address family, since a view holds one IPv4 and one IPv6 source. With no source at all,
///   nothing is exported ([`ExportConfig::validate`] says so with [`ConfigError::NoSource`]).
pub fn effective_export(system: &ViewExport, aggregation: &ViewExport) -> EffectiveExport {
    let hosts = if system.hosts.is_empty() {
        aggregation.hosts.clone()
    } else {
        system.hosts.clone()
    };
    let source = ExportSource {
        v4: aggregation.source.v4.or(system.source.v4),
        v6: aggregation.source.v6.or(system.source.v6),
    };
    EffectiveExport { hosts, source }
}

/// Everything the exporter of one view needs. [`ExportConfig::new`] gives the product
/// defaults; [`ExportConfig::validate`] enforces the ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// v9 or IPFIX (default v9, the product default for aggregation).
    pub version: Version,
    /// Up to 8 collectors; every one receives the same message stream.
    pub collectors: Vec<Collector>,
    /// Source addresses and ports (A2).
    pub source: ExportSource,
    /// Aggregation modes whose templates are announced at start (records of other modes
    /// are accepted too; their template is sent before their first record).
    pub modes: Vec<AggregationMode>,
    /// `template timeout-rate`: template refresh interval in minutes, 1–3600 (default 30).
    pub template_timeout_minutes: u32,
    /// `template sequence-number fixed` (IPFIX only, A6): RFC 7011 sequence numbers.
    pub sequence_fixed: bool,
    /// AS field width (A9, default 2 octets).
    pub as_width: FieldWidth,
    /// ifIndex field width (A9, default 2 octets).
    pub ifindex_width: FieldWidth,
    /// Largest UDP payload of one message, bytes (default 1400, at most 65535).
    pub mtu: usize,
    /// No record waits longer than this in a partly filled message (default 1 s).
    pub flush_deadline: Duration,
    /// Options template and data are re-sent after this many export packets (1–600,
    /// default 20).
    pub options_refresh_packets: u32,
    /// ... and after this many minutes (1–3600, default 30), whichever comes first.
    pub options_refresh_minutes: u32,
    /// Observation Domain ID (IPFIX) / Source ID (v9) of the flow messages (default 1).
    /// IPFIX options go in domain 0 when this is not 0 (see [`crate::stream`]).
    pub observation_domain: u32,
    /// Aggregation active timeout, seconds, exported in the timeouts options record (A4:
    /// 15–3600, default 1800).
    pub active_timeout_secs: u16,
    /// Aggregation inactive timeout, seconds (A4: 5–600, default 300).
    pub inactive_timeout_secs: u16,
    /// System initialisation time, UNIX ms, the base of v9 sysUpTime and FIRST/LAST_SWITCHED.
    /// `None`: the time the exporter starts. Rounded down to a whole second so that a
    /// collector's boot time (UNIX secs − sysUpTime) is exact.
    pub system_init_ms: Option<u64>,
}

impl ExportConfig {
    /// The product defaults with the given collectors and source.
    pub fn new(collectors: Vec<Collector>, source: ExportSource) -> Self {
        Self {
            version: Version::V9,
            collectors,
            source,
            modes: Vec::new(),
            template_timeout_minutes: 30,
            sequence_fixed: false,
            as_width: FieldWidth::Two,
            ifindex_width: FieldWidth::Two,
            mtu: 1400,
            flush_deadline: Duration::from_secs(1),
            options_refresh_packets: 20,
            options_refresh_minutes: 30,
            observation_domain: 1,
            active_timeout_secs: 1800,
            inactive_timeout_secs: 300,
            system_init_ms: None,
        }
    }

    /// The template format these settings give.
    pub fn format(&self) -> Format {
        Format {
            version: self.version,
            as_width: self.as_width,
            ifindex_width: self.ifindex_width,
        }
    }

    /// Checks every range of decisions A2, A4, A5, A15 and A16.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.collectors.len() > MAX_COLLECTORS {
            return Err(ConfigError::TooManyCollectors(self.collectors.len()));
        }
        if self.source.is_empty() {
            return Err(ConfigError::NoSource);
        }
        for c in &self.collectors {
            if c.port == 0 {
                return Err(ConfigError::CollectorPort(c.socket_addr()));
            }
            if c.dscp > 63 {
                return Err(ConfigError::Dscp(c.dscp));
            }
            if let Some(v) = &c.vpn_instance {
                if v.is_empty() || v.len() > 31 || v.chars().any(|ch| ch.is_whitespace()) {
                    return Err(ConfigError::VpnInstanceName(v.clone()));
                }
            }
            if self.source.for_collector(c.addr).is_none() {
                return Err(ConfigError::NoSourceForFamily(c.socket_addr()));
            }
        }
        range(
            "template timeout-rate (min)",
            self.template_timeout_minutes,
            1,
            3600,
        )?;
        range(
            "option refresh-rate (packets)",
            self.options_refresh_packets,
            1,
            600,
        )?;
        range(
            "option timeout-rate (min)",
            self.options_refresh_minutes,
            1,
            3600,
        )?;
        range(
            "active timeout (s)",
            u32::from(self.active_timeout_secs),
            15,
            3600,
        )?;
        range(
            "inactive timeout (s)",
            u32::from(self.inactive_timeout_secs),
            5,
            600,
        )?;
        if !(MIN_MTU..=usize::from(u16::MAX)).contains(&self.mtu) {
            return Err(ConfigError::Mtu(self.mtu));
        }
        if self.flush_deadline.is_zero() || self.flush_deadline > Duration::from_secs(3600) {
            return Err(ConfigError::FlushDeadline(self.flush_deadline));
        }
        Ok(())
    }
}

fn range(what: &'static str, v: u32, lo: u32, hi: u32) -> Result<(), ConfigError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(ConfigError::Range {
            what,
            value: v,
            lo,
            hi,
        })
    }
}

/// Why an export configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// More than 8 collectors in one view.
    #[error("{0} export hosts configured, at most 8 per view")]
    TooManyCollectors(usize),
    /// No `export source` in either view: nothing is exported (A2).
    #[error("no ipv6 netstream export source configured: nothing is exported")]
    NoSource,
    /// A collector of a family with no source address of that family.
    #[error("export host {0} has no export source address of its address family")]
    NoSourceForFamily(SocketAddr),
    /// A collector with UDP port 0.
    #[error("export host {0}: port must be 1-65535")]
    CollectorPort(SocketAddr),
    /// DSCP above 63.
    #[error("dscp {0} is out of range 0-63")]
    Dscp(u8),
    /// A VPN instance name that is empty, too long or has spaces.
    #[error("vpn-instance name `{0}` must be 1-31 characters without spaces")]
    VpnInstanceName(String),
    /// A value outside its documented range.
    #[error("{what} {value} is out of range {lo}-{hi}")]
    Range {
        /// Which setting.
        what: &'static str,
        /// The value given.
        value: u32,
        /// Smallest allowed.
        lo: u32,
        /// Largest allowed.
        hi: u32,
    },
    /// A path MTU outside 256–65535.
    #[error("path MTU {0} is out of range 256-65535 bytes of UDP payload")]
    Mtu(usize),
    /// A flush deadline of zero or above an hour.
    #[error("flush deadline {0:?} must be above zero and at most an hour")]
    FlushDeadline(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn host(last: u8, port: u16) -> Collector {
        Collector::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), port)
    }

    fn src(addr: IpAddr, port: Option<u16>) -> SourceAddr {
        SourceAddr { addr, port }
    }

    #[test]
    fn a1_system_view_hosts_win_when_present() {
        let system = ViewExport {
            hosts: vec![host(1, 9995)],
            source: ExportSource::default(),
        };
        let agg = ViewExport {
            hosts: vec![host(2, 9996), host(3, 9997)],
            source: ExportSource::default(),
        };
        assert_eq!(effective_export(&system, &agg).hosts, vec![host(1, 9995)]);
    }

    #[test]
    fn a1_aggregation_view_hosts_used_when_system_view_has_none() {
        let system = ViewExport::default();
        let agg = ViewExport {
            hosts: vec![host(2, 9996), host(3, 9997)],
            source: ExportSource::default(),
        };
        assert_eq!(
            effective_export(&system, &agg).hosts,
            vec![host(2, 9996), host(3, 9997)]
        );
    }

    #[test]
    fn a2_aggregation_source_wins_per_family_and_system_is_the_fallback() {
        let sys_v4 = src(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), None);
        let sys_v6 = src(IpAddr::V6(Ipv6Addr::LOCALHOST), Some(7000));
        let agg_v4 = src(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), Some(6000));
        let system = ViewExport {
            hosts: vec![],
            source: ExportSource {
                v4: Some(sys_v4),
                v6: Some(sys_v6),
            },
        };
        let agg = ViewExport {
            hosts: vec![],
            source: ExportSource {
                v4: Some(agg_v4),
                v6: None,
            },
        };
        let e = effective_export(&system, &agg);
        assert_eq!(e.source.v4, Some(agg_v4));
        assert_eq!(e.source.v6, Some(sys_v6));
        // Only the system view has a source: it is used.
        let e = effective_export(&system, &ViewExport::default());
        assert_eq!(e.source, system.source);
    }

    #[test]
    fn a2_source_without_port_uses_40000() {
        let s = src(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), None);
        assert_eq!(s.socket_addr().port(), 40000);
        let s = src(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), Some(5000));
        assert_eq!(s.socket_addr().port(), 5000);
    }

    fn valid() -> ExportConfig {
        ExportConfig::new(
            vec![host(1, 2055)],
            ExportSource {
                v4: Some(src(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), None)),
                v6: None,
            },
        )
    }

    #[test]
    fn defaults_are_the_product_defaults_and_valid() {
        let c = valid();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.version, Version::V9);
        assert_eq!(c.template_timeout_minutes, 30);
        assert_eq!(c.mtu, 1400);
        assert_eq!(c.flush_deadline, Duration::from_secs(1));
        assert_eq!(
            (c.options_refresh_packets, c.options_refresh_minutes),
            (20, 30)
        );
        assert_eq!(
            (c.as_width, c.ifindex_width),
            (FieldWidth::Two, FieldWidth::Two)
        );
        assert_eq!(
            (c.active_timeout_secs, c.inactive_timeout_secs),
            (1800, 300)
        );
        assert!(!c.sequence_fixed);
    }

    #[test]
    fn validation_rejects_each_out_of_range_value() {
        let mut c = valid();
        c.collectors = (1..=9).map(|i| host(i, 2055)).collect();
        assert_eq!(c.validate(), Err(ConfigError::TooManyCollectors(9)));
        let mut c = valid();
        c.source = ExportSource::default();
        assert_eq!(c.validate(), Err(ConfigError::NoSource));
        let mut c = valid();
        c.collectors = vec![Collector::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 2055)];
        assert!(matches!(
            c.validate(),
            Err(ConfigError::NoSourceForFamily(_))
        ));
        let mut c = valid();
        c.collectors[0].dscp = 64;
        assert_eq!(c.validate(), Err(ConfigError::Dscp(64)));
        let mut c = valid();
        c.collectors[0].vpn_instance = Some("a".repeat(32));
        assert!(matches!(c.validate(), Err(ConfigError::VpnInstanceName(_))));
        let mut c = valid();
        c.collectors[0].vpn_instance = Some("a".repeat(31));
        assert_eq!(c.validate(), Ok(()));
        let mut c = valid();
        c.template_timeout_minutes = 3601;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Range { value: 3601, .. })
        ));
        let mut c = valid();
        c.template_timeout_minutes = 0;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Range { value: 0, .. })
        ));
        let mut c = valid();
        c.options_refresh_packets = 601;
        assert!(c.validate().is_err());
        let mut c = valid();
        c.mtu = 65536;
        assert_eq!(c.validate(), Err(ConfigError::Mtu(65536)));
        let mut c = valid();
        c.mtu = 255;
        assert_eq!(c.validate(), Err(ConfigError::Mtu(255)));
        let mut c = valid();
        c.flush_deadline = Duration::ZERO;
        assert!(c.validate().is_err());
        let mut c = valid();
        c.inactive_timeout_secs = 4;
        assert!(c.validate().is_err());
    }
}
