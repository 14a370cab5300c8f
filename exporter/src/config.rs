//! Export configuration of one aggregation view: format, collectors, source, timers and
//! limits (decisions A2, A5, A6, A9, A15, A16), their defaults and ranges (defined here
//! once; the VRP language builds its parameter limits from them), and the validation.
//!
//! Which view's hosts and sources apply (A1, A2) is the configuration language's
//! business: an [`ExportConfig`] holds the result.

use nsflow_rtl::regs::{self, Register};
use nsflow_rtl::AggregationMode;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

/// The export format (`export version { 9 | ipfix }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    /// NetFlow version 9, RFC 3954 (the product's default for aggregated IPv6 flows).
    #[default]
    V9,
    /// IPFIX, RFC 7011 (header version 10).
    Ipfix,
}

/// Width of the AS (`as-mode 16|32`) or ifIndex (`index-switch 16|32`) fields (A9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FieldWidth {
    /// 2 octets: the product default. 4-octet ASes are sent as AS_TRANS (23456), ifIndexes
    /// above 65535 as 0.
    #[default]
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
/// Collector UDP ports: 0 cannot be sent to.
pub const COLLECTOR_PORTS: RangeInclusive<u16> = 1..=u16::MAX;
/// Largest DSCP (6 bits of the IP TOS / IPv6 Traffic Class; 0 = unmarked, A16).
pub const MAX_DSCP: u8 = 63;
/// Length of a VPN instance name, characters (A16).
pub const VPN_INSTANCE_NAME_LEN: RangeInclusive<usize> = 1..=31;
/// Length of a Linux network device name, the VRF device of a VPN instance: at most
/// IFNAMSIZ - 1 characters.
pub const VRF_DEVICE_NAME_LEN: RangeInclusive<usize> = 1..=15;

/// Whether `name` can name a Linux network device: [`VRF_DEVICE_NAME_LEN`] characters,
/// printable ASCII without `/` or `:`, not `.` or `..` (the kernel's `dev_valid_name`).
pub fn is_device_name(name: &str) -> bool {
    VRF_DEVICE_NAME_LEN.contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '/' && c != ':')
        && name != "."
        && name != ".."
}
/// `template timeout-rate`: template refresh interval, minutes (A5).
pub const TEMPLATE_TIMEOUT_MINUTES: RangeInclusive<u16> = 1..=3600;
/// Default template refresh interval, minutes (A5).
pub const DEFAULT_TEMPLATE_TIMEOUT_MINUTES: u16 = 30;
/// `template option refresh-rate`: options re-sent after this many export packets (A15).
pub const OPTIONS_REFRESH_PACKETS: RangeInclusive<u16> = 1..=600;
/// Default options refresh, packets (A15).
pub const DEFAULT_OPTIONS_REFRESH_PACKETS: u16 = 20;
/// `template option timeout-rate`: options re-sent after this many minutes (A15).
pub const OPTIONS_REFRESH_MINUTES: RangeInclusive<u16> = 1..=3600;
/// Default options refresh, minutes (A15).
pub const DEFAULT_OPTIONS_REFRESH_MINUTES: u16 = 30;
/// Smallest accepted path MTU (UDP payload): room for the largest template or record.
pub const MIN_MTU: usize = 256;
/// Accepted path MTUs (UDP payload, bytes): at least [`MIN_MTU`], at most a UDP datagram.
pub const MTU: RangeInclusive<usize> = MIN_MTU..=u16::MAX as usize;
/// Default path MTU, bytes of UDP payload (A16).
pub const DEFAULT_MTU: usize = 1400;

/// Active timeout reported before one is given: the engine's reset value.
const DEFAULT_ACTIVE_TIMEOUT_SECS: u16 = reset_seconds(&regs::PROF_ACTIVE);
/// Inactive timeout reported before one is given: the engine's reset value.
const DEFAULT_INACTIVE_TIMEOUT_SECS: u16 = reset_seconds(&regs::PROF_INACTIVE);

/// The reset value of a seconds register of the engine; evaluated at compile time, where
/// a value beyond the 16-bit timeout IEs fails the build.
const fn reset_seconds(r: &Register) -> u16 {
    let v = r.reset();
    assert!(v <= u16::MAX as u32, "a timeout reset value beyond 16 bits");
    v as u16
}

/// One `ipv6 netstream export host` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Collector {
    /// Collector address, IPv4 or IPv6.
    pub addr: IpAddr,
    /// Collector UDP port (1–65535).
    pub port: u16,
    /// VPN instance the collector is reached in: its Linux VRF device carries the export
    /// (SO_BINDTODEVICE).
    pub vpn_instance: Option<String>,
    /// The VRF device of `vpn_instance` (the configuration's `vrf-device`); `None`: the
    /// device named as the instance.
    pub vrf_device: Option<String>,
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
            vrf_device: None,
            dscp: 0,
        }
    }

    /// The network device the export to this collector is bound to: the VRF device of its
    /// VPN instance, `None` in the default VRF.
    pub fn device(&self) -> Option<&str> {
        let vpn = self.vpn_instance.as_deref()?;
        Some(self.vrf_device.as_deref().unwrap_or(vpn))
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

/// Everything the exporter of one view needs. [`ExportConfig::new`] gives the product
/// defaults; [`ExportConfig::validate`] enforces the ranges above. The configuration
/// language builds one per enabled aggregation mode, precedence (A1, A2) applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// v9 or IPFIX (default v9, the product default for aggregation).
    pub version: Version,
    /// Up to [`MAX_COLLECTORS`] collectors; every one receives the same message stream.
    pub collectors: Vec<Collector>,
    /// Source addresses and ports (A2).
    pub source: ExportSource,
    /// Aggregation modes whose templates are announced at start (records of other modes
    /// are accepted too; their template is sent before their first record).
    pub modes: Vec<AggregationMode>,
    /// `template timeout-rate`: template refresh interval in minutes
    /// ([`TEMPLATE_TIMEOUT_MINUTES`], default [`DEFAULT_TEMPLATE_TIMEOUT_MINUTES`]).
    pub template_timeout_minutes: u16,
    /// `template sequence-number fixed` (IPFIX only, A6): RFC 7011 sequence numbers.
    pub sequence_fixed: bool,
    /// AS field width (A9, default 2 octets).
    pub as_width: FieldWidth,
    /// ifIndex field width (A9, default 2 octets).
    pub ifindex_width: FieldWidth,
    /// Largest UDP payload of one message, bytes ([`MTU`], default [`DEFAULT_MTU`]).
    pub mtu: usize,
    /// No record waits longer than this in a partly filled message (default 1 s).
    pub flush_deadline: Duration,
    /// Options template and data are re-sent after this many export packets
    /// ([`OPTIONS_REFRESH_PACKETS`], default [`DEFAULT_OPTIONS_REFRESH_PACKETS`]) ...
    pub options_refresh_packets: u16,
    /// ... and after this many minutes ([`OPTIONS_REFRESH_MINUTES`], default
    /// [`DEFAULT_OPTIONS_REFRESH_MINUTES`]), whichever comes first.
    pub options_refresh_minutes: u16,
    /// Observation Domain ID (IPFIX) / Source ID (v9) of the flow messages (default 1).
    /// IPFIX options go in domain 0 when this is not 0 (see [`crate::stream`]).
    pub observation_domain: u32,
    /// Aggregation active timeout, seconds, reported as given in the timeouts options
    /// record (IE 36, 16 bits; A15). Its range (A4) is the configuration language's; the
    /// default is the engine's reset value (1800).
    pub active_timeout_secs: u16,
    /// Aggregation inactive timeout, seconds, reported in the timeouts options record
    /// (IE 37, 16 bits); the default is the engine's reset value (300).
    pub inactive_timeout_secs: u16,
    /// System initialisation time, UNIX ms, the base of v9 sysUpTime and FIRST/LAST_SWITCHED.
    /// `None`: the time the exporter starts. Rounded down to a whole second so that a
    /// collector's boot time (UNIX secs − sysUpTime) is exact.
    pub system_init_ms: Option<u64>,
    /// Replayed traffic: the capture's clock, for v9. `None`: live traffic on the system
    /// clock. With it, v9's header UNIX seconds run on the capture's clock (the capture's
    /// first frame time plus the wall time elapsed since the replay started) and
    /// sysUpTime and FIRST/LAST_SWITCHED count from the capture's first frame, so a v9
    /// collector shows the capture's times exactly as an IPFIX one does (issue 13).
    pub capture_clock: Option<CaptureClock>,
}

/// Where a replayed capture's clock stands against the exporter's clock: at exporter time
/// `started_ms` the capture's time was `capture_ms` (its first frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureClock {
    /// The capture's time at the start of the replay, UNIX ms (its first frame).
    pub capture_ms: u64,
    /// The exporter's clock (`Clock::now_ms`) at that moment.
    pub started_ms: u64,
}

impl CaptureClock {
    /// The capture's time at exporter time `now_ms` (the replay's wall time elapsed on the
    /// capture's clock).
    pub fn at(&self, now_ms: u64) -> u64 {
        self.capture_ms
            .saturating_add(now_ms.saturating_sub(self.started_ms))
    }
}

impl ExportConfig {
    /// The product defaults with the given collectors and source.
    pub fn new(collectors: Vec<Collector>, source: ExportSource) -> Self {
        Self {
            version: Version::default(),
            collectors,
            source,
            modes: Vec::new(),
            template_timeout_minutes: DEFAULT_TEMPLATE_TIMEOUT_MINUTES,
            sequence_fixed: false,
            as_width: FieldWidth::default(),
            ifindex_width: FieldWidth::default(),
            mtu: DEFAULT_MTU,
            flush_deadline: Duration::from_secs(1),
            options_refresh_packets: DEFAULT_OPTIONS_REFRESH_PACKETS,
            options_refresh_minutes: DEFAULT_OPTIONS_REFRESH_MINUTES,
            observation_domain: 1,
            active_timeout_secs: DEFAULT_ACTIVE_TIMEOUT_SECS,
            inactive_timeout_secs: DEFAULT_INACTIVE_TIMEOUT_SECS,
            system_init_ms: None,
            capture_clock: None,
        }
    }

    /// The source socket `collector` is sent from: the source of its address family (A2),
    /// if the view has one.
    pub fn source_for(&self, collector: &Collector) -> Option<SocketAddr> {
        self.source
            .for_collector(collector.addr)
            .map(|s| s.socket_addr())
    }

    /// The collectors that have a source of their family, each with that source.
    pub fn destinations(&self) -> Vec<(Collector, SocketAddr)> {
        self.collectors
            .iter()
            .filter_map(|c| self.source_for(c).map(|s| (c.clone(), s)))
            .collect()
    }

    /// The template format these settings give.
    pub fn format(&self) -> Format {
        Format {
            version: self.version,
            as_width: self.as_width,
            ifindex_width: self.ifindex_width,
        }
    }

    /// Checks every range of decisions A2, A5, A15 and A16 (the constants above).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.collectors.len() > MAX_COLLECTORS {
            return Err(ConfigError::TooManyCollectors(self.collectors.len()));
        }
        if self.source.is_empty() {
            return Err(ConfigError::NoSource);
        }
        for c in &self.collectors {
            if !COLLECTOR_PORTS.contains(&c.port) {
                return Err(ConfigError::CollectorPort(c.socket_addr()));
            }
            if c.dscp > MAX_DSCP {
                return Err(ConfigError::Dscp(c.dscp));
            }
            if let Some(v) = &c.vpn_instance {
                if !VPN_INSTANCE_NAME_LEN.contains(&v.len()) || v.chars().any(char::is_whitespace) {
                    return Err(ConfigError::VpnInstanceName(v.clone()));
                }
            }
            if let Some(d) = c.device().filter(|d| !is_device_name(d)) {
                return Err(ConfigError::VrfDeviceName(d.to_owned()));
            }
            if self.source.for_collector(c.addr).is_none() {
                return Err(ConfigError::NoSourceForFamily(c.socket_addr()));
            }
        }
        range(
            "template timeout-rate (min)",
            self.template_timeout_minutes,
            &TEMPLATE_TIMEOUT_MINUTES,
        )?;
        range(
            "option refresh-rate (packets)",
            self.options_refresh_packets,
            &OPTIONS_REFRESH_PACKETS,
        )?;
        range(
            "option timeout-rate (min)",
            self.options_refresh_minutes,
            &OPTIONS_REFRESH_MINUTES,
        )?;
        if !MTU.contains(&self.mtu) {
            return Err(ConfigError::Mtu(self.mtu));
        }
        if self.flush_deadline.is_zero() || self.flush_deadline > Duration::from_secs(3600) {
            return Err(ConfigError::FlushDeadline(self.flush_deadline));
        }
        Ok(())
    }
}

fn range(what: &'static str, v: u16, r: &RangeInclusive<u16>) -> Result<(), ConfigError> {
    if r.contains(&v) {
        Ok(())
    } else {
        Err(ConfigError::Range {
            what,
            value: v.into(),
            lo: (*r.start()).into(),
            hi: (*r.end()).into(),
        })
    }
}

/// Why an export configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// More than [`MAX_COLLECTORS`] collectors in one view.
    #[error("{0} export hosts configured, at most {MAX_COLLECTORS} per view")]
    TooManyCollectors(usize),
    /// No `export source` in either view: nothing is exported (A2).
    #[error("no ipv6 netstream export source configured: nothing is exported")]
    NoSource,
    /// A collector of a family with no source address of that family.
    #[error("export host {0} has no export source address of its address family")]
    NoSourceForFamily(SocketAddr),
    /// A collector with UDP port 0.
    #[error(
        "export host {0}: port must be {lo}-{hi}",
        lo = COLLECTOR_PORTS.start(),
        hi = COLLECTOR_PORTS.end()
    )]
    CollectorPort(SocketAddr),
    /// DSCP above [`MAX_DSCP`].
    #[error("dscp {0} is out of range 0-{MAX_DSCP}")]
    Dscp(u8),
    /// A VPN instance name that is empty, too long or has spaces.
    #[error(
        "vpn-instance name `{0}` must be {lo}-{hi} characters without spaces",
        lo = VPN_INSTANCE_NAME_LEN.start(),
        hi = VPN_INSTANCE_NAME_LEN.end()
    )]
    VpnInstanceName(String),
    /// A VRF device name the kernel cannot have ([`is_device_name`]).
    #[error(
        "VRF device name `{0}` must be {lo}-{hi} printable characters without `/` or `:`",
        lo = VRF_DEVICE_NAME_LEN.start(),
        hi = VRF_DEVICE_NAME_LEN.end()
    )]
    VrfDeviceName(String),
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
    /// A path MTU outside [`MTU`].
    #[error(
        "path MTU {0} is out of range {lo}-{hi} bytes of UDP payload",
        lo = MTU.start(),
        hi = MTU.end()
    )]
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
        // An instance name longer than a device name needs its `vrf-device`.
        assert_eq!(
            c.validate(),
            Err(ConfigError::VrfDeviceName("a".repeat(31)))
        );
        c.collectors[0].vrf_device = Some("vrf-a".into());
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.collectors[0].device(), Some("vrf-a"));
        c.collectors[0].vrf_device = Some("a/b".into());
        assert!(matches!(c.validate(), Err(ConfigError::VrfDeviceName(_))));
        for bad in ["", ".", "..", "a:b", "a b", "0123456789abcdef"] {
            assert!(!is_device_name(bad), "{bad}");
        }
        assert!(is_device_name("0123456789abcde"));
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
        c.collectors[0].port = 0;
        assert!(matches!(c.validate(), Err(ConfigError::CollectorPort(_))));
    }

    #[test]
    fn messages_name_the_ranges() {
        assert_eq!(
            ConfigError::TooManyCollectors(9).to_string(),
            "9 export hosts configured, at most 8 per view"
        );
        assert_eq!(
            ConfigError::CollectorPort("192.0.2.1:0".parse().unwrap()).to_string(),
            "export host 192.0.2.1:0: port must be 1-65535"
        );
        assert_eq!(
            ConfigError::Dscp(64).to_string(),
            "dscp 64 is out of range 0-63"
        );
        assert_eq!(
            ConfigError::VpnInstanceName(String::new()).to_string(),
            "vpn-instance name `` must be 1-31 characters without spaces"
        );
        assert_eq!(
            ConfigError::Mtu(1).to_string(),
            "path MTU 1 is out of range 256-65535 bytes of UDP payload"
        );
    }

    #[test]
    fn source_for_and_destinations_pair_collectors_with_their_family_source() {
        let mut c = valid();
        c.collectors
            .push(Collector::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 2055));
        let v4: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        assert_eq!(c.source_for(&c.collectors[0]), Some(v4));
        assert_eq!(c.source_for(&c.collectors[1]), None);
        assert_eq!(c.destinations(), vec![(host(1, 2055), v4)]);
    }
}
