//! Which view's export hosts and sources an aggregation mode uses: decisions A1 (hosts)
//! and A2 (source) between the system view and the mode's aggregation view. The result
//! feeds the mode's [`nsflow_exporter::ExportConfig`] ([`super::resolve`]) and `commit`'s
//! warnings; the exporter itself knows nothing of views.
#![deny(clippy::indexing_slicing)]

use nsflow_exporter::{Collector, ExportSource};

/// The export settings one VRP view holds (system view or an aggregation view), as the
/// commands set them, before precedence is applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ViewExport {
    /// `ipv6 netstream export host` entries of the view.
    pub hosts: Vec<Collector>,
    /// `ipv6 netstream export source` entries of the view.
    pub source: ExportSource,
}

/// The collectors and sources an aggregation view actually uses, precedence applied.
/// `hosts` may hold hosts without a source of their family: they get nothing (and
/// `commit` warns), but they are part of what the operator configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveExport {
    /// Where the aggregated records go (A1).
    pub hosts: Vec<Collector>,
    /// The sources to send from (A2).
    pub source: ExportSource,
}

impl EffectiveExport {
    /// Whether `host` has a source of its address family (otherwise it receives nothing).
    pub fn reaches(&self, host: &Collector) -> bool {
        self.source.for_collector(host.addr).is_some()
    }
}

/// Applies decisions A1 and A2.
///
/// * A1 (hosts): when the system view has hosts, aggregated flows go to those; otherwise to
///   the aggregation view's hosts (the product procedure's rule).
/// * A2 (source): the aggregation view's source wins, else the system view's; decided per
///   address family, since a view holds one IPv4 and one IPv6 source. With no source at all,
///   nothing is exported (`commit` warns).
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

#[cfg(test)]
mod tests {
    use super::*;
    use nsflow_exporter::SourceAddr;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
    fn a2_hosts_without_a_source_of_their_family_are_not_reached() {
        let system = ViewExport {
            hosts: vec![
                host(1, 9995),
                Collector::new(Ipv6Addr::LOCALHOST.into(), 9995),
            ],
            source: ExportSource {
                v4: Some(src(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), None)),
                v6: None,
            },
        };
        let e = effective_export(&system, &ViewExport::default());
        let reached: Vec<bool> = e.hosts.iter().map(|h| e.reaches(h)).collect();
        assert_eq!(reached, [true, false]);
    }
}
