//! The route and interface file given on the command line: the routes (prefix, origin AS,
//! BGP next hop, egress ifIndex), the ingress ifIndex of each VLAN and the MPLS label
//! addresses that the device's lookup tables hold (AS, prefix length, next hop and ifIndex
//! of the aggregation keys). One entry per line; `#` starts a comment line:
//!
//! ```text
//! route 2001:db8::/32 as 64500 next-hop 2001:db8:ffff::1 interface 10
//! interface vlan 0 ifindex 1
//! label 16 address 192.0.2.1
//! ```
//!
//! Errors carry line, column and caret like the configuration language's.
#![deny(clippy::indexing_slicing)]

use super::cursor::{kw, AddrSpec, Cursor, Limit};
use super::error::{CommandError, ErrorKind, Errors};
use super::lexer::is_comment;
use nsflow_rtl::tables::{LabelEntry, Route, TableError, Tables, LABEL_ENTRIES, ROUTE_ENTRIES};
use std::collections::HashMap;
use std::net::Ipv6Addr;

/// The tables of a route file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteTables {
    /// Routes (at most [`ROUTE_ENTRIES`]); index = file order.
    pub routes: Vec<Route>,
    /// (VLAN ID, ingress ifIndex); VLAN 0 = untagged.
    pub interfaces: Vec<(u16, u32)>,
    /// MPLS label → IPv4 address (at most [`LABEL_ENTRIES`]).
    pub labels: Vec<LabelEntry>,
}

impl RouteTables {
    /// The device tables holding these entries.
    pub fn tables(&self) -> Result<Tables, TableError> {
        Tables::new(&self.routes, &self.interfaces, &self.labels)
    }
}

const U32: Limit = Limit {
    what: "value",
    min: 0,
    max: u32::MAX,
};
const ASN: Limit = Limit {
    what: "AS number",
    ..U32
};
const IFINDEX: Limit = Limit {
    what: "ifIndex",
    ..U32
};
const VLAN: Limit = Limit {
    what: "VLAN ID",
    min: 0,
    max: 4095,
};
const LABEL: Limit = Limit {
    what: "MPLS label",
    min: 0,
    max: 0xF_FFFF,
};
const NEXT_HOP: AddrSpec = AddrSpec {
    word: "<ipv6-address>",
    help: "BGP next hop",
    other_family: "the next hop of an IPv6 route must be an IPv6 address",
};
const LABEL_ADDR: AddrSpec = AddrSpec {
    word: "<ipv4-address>",
    help: "IPv4 address (FEC) of the label",
    other_family: "a label's address is IPv4 (IANA mplsTopLabelIPv4Address)",
};

enum Entry {
    Route(Route),
    Interface(u16, u32),
    Label(LabelEntry),
}

#[derive(Clone, Copy)]
enum Word {
    Route,
    Interface,
    Label,
}

fn entry(cur: &mut Cursor<'_>) -> Result<Entry, CommandError> {
    let e = match cur.keyword(&[
        kw("route", "A route", Word::Route),
        kw("interface", "Ingress ifIndex of a VLAN", Word::Interface),
        kw("label", "IPv4 address of an MPLS label", Word::Label),
    ])? {
        Word::Route => {
            let (prefix, len) = cur.ipv6_prefix("Route prefix")?;
            let mut r = Route {
                prefix: prefix.octets(),
                len,
                ..Route::default()
            };
            if cur.opt_keyword(&[kw("as", "Origin AS", ())])?.is_some() {
                r.origin_as = cur.int(&ASN, "Origin AS number")?;
            }
            if cur
                .opt_keyword(&[kw("next-hop", "BGP next hop", ())])?
                .is_some()
            {
                r.next_hop = cur.ipv6(&NEXT_HOP)?.octets();
            }
            if cur
                .opt_keyword(&[kw("interface", "Egress ifIndex", ())])?
                .is_some()
            {
                r.out_if = cur.int(&IFINDEX, "Egress ifIndex")?;
            }
            Entry::Route(r)
        }
        Word::Interface => {
            cur.keyword(&[kw("vlan", "VLAN ID (0 = untagged)", ())])?;
            let vlan = cur.int(&VLAN, "VLAN ID, 0 = untagged")?;
            cur.keyword(&[kw("ifindex", "Ingress ifIndex", ())])?;
            Entry::Interface(vlan, cur.int(&IFINDEX, "Ingress ifIndex")?)
        }
        Word::Label => {
            let label = cur.int(&LABEL, "MPLS label value")?;
            cur.keyword(&[kw("address", "IPv4 address of the label", ())])?;
            Entry::Label(LabelEntry {
                label,
                addr: u32::from(cur.ipv4(&LABEL_ADDR)?),
            })
        }
    };
    cur.end()?;
    Ok(e)
}

/// Parses a route file; every error is reported and nothing is returned with errors.
pub fn parse_routes(text: &str) -> Result<RouteTables, Errors> {
    let mut t = RouteTables::default();
    let mut errors = Vec::new();
    // First line of each route prefix, VLAN and label, for duplicates.
    let mut routes: HashMap<([u8; 16], u8), usize> = HashMap::new();
    let mut vlans: HashMap<u16, usize> = HashMap::new();
    let mut labels: HashMap<u32, usize> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() || is_comment(line) {
            continue;
        }
        let mut cur = Cursor::new(line);
        let first = cur.column();
        let result = entry(&mut cur).and_then(|e| {
            let dup = |what: String, at: usize| {
                CommandError::new(
                    ErrorKind::WrongParameter,
                    first,
                    format!("{what} is already defined on line {at}"),
                )
            };
            let full = |table: &str, cap: usize| {
                CommandError::new(
                    ErrorKind::LimitExceeded,
                    first,
                    format!("the {table} table holds {cap} entries"),
                )
            };
            match e {
                Entry::Route(r) => {
                    if let Some(at) = routes.get(&(r.prefix, r.len)) {
                        return Err(dup(
                            format!("route {}/{}", Ipv6Addr::from(r.prefix), r.len),
                            *at,
                        ));
                    }
                    if t.routes.len() >= ROUTE_ENTRIES {
                        return Err(full("route", ROUTE_ENTRIES));
                    }
                    routes.insert((r.prefix, r.len), n);
                    t.routes.push(r);
                }
                Entry::Interface(vlan, ifindex) => {
                    if let Some(at) = vlans.insert(vlan, n) {
                        return Err(dup(format!("VLAN {vlan}"), at));
                    }
                    t.interfaces.push((vlan, ifindex));
                }
                Entry::Label(l) => {
                    if let Some(at) = labels.get(&l.label) {
                        return Err(dup(format!("label {}", l.label), *at));
                    }
                    if t.labels.len() >= LABEL_ENTRIES {
                        return Err(full("label", LABEL_ENTRIES));
                    }
                    labels.insert(l.label, n);
                    t.labels.push(l);
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            errors.push(e.at_line(n, line));
        }
    }
    if errors.is_empty() {
        Ok(t)
    } else {
        Err(Errors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (ErrorKind, usize, usize, String) {
        let e = parse_routes(text).unwrap_err().0.remove(0);
        let l = e.location.unwrap();
        (e.kind, l.line, l.column, e.detail)
    }

    #[test]
    fn parses_every_entry_kind() {
        let t = parse_routes(
            "# comment\n\nroute 2001:db8::/32 as 64500 next-hop 2001:db8::1 interface 10\n\
             route fe80::/10\n  interface vlan 0 ifindex 1\nINTERFACE VLAN 4095 IFINDEX 4294967295\n\
             label 1048575 address 192.0.2.1\nroute ::/0 interface 7\n",
        )
        .unwrap();
        assert_eq!(t.routes.len(), 3);
        assert_eq!(t.routes[0].origin_as, 64500);
        assert_eq!(t.routes[0].len, 32);
        assert_eq!(t.routes[0].out_if, 10);
        assert_eq!(
            t.routes[0].next_hop,
            "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(
            t.routes[1],
            Route {
                prefix: "fe80::".parse::<Ipv6Addr>().unwrap().octets(),
                len: 10,
                ..Route::default()
            }
        );
        assert_eq!(t.routes[2].out_if, 7);
        assert_eq!(t.interfaces, vec![(0, 1), (4095, u32::MAX)]);
        assert_eq!(
            t.labels,
            vec![LabelEntry {
                label: 0xF_FFFF,
                addr: 0xC000_0201
            }]
        );
        let tables = t.tables().unwrap();
        assert_eq!(tables.ifindex(4095), u32::MAX);
        assert_eq!(
            tables
                .lookup(&"2001:db8::5".parse::<Ipv6Addr>().unwrap().octets())
                .unwrap()
                .origin_as,
            64500
        );
    }

    #[test]
    fn every_error_has_line_column_and_reason() {
        let cases: &[(&str, ErrorKind, usize, &str)] = &[
            (
                "rte 2001:db8::/32",
                ErrorKind::Unrecognized,
                1,
                "expected one of: route, interface, label",
            ),
            ("route", ErrorKind::Incomplete, 6, "<ipv6-prefix/length>"),
            (
                "route 2001:db8::1/32",
                ErrorKind::WrongParameter,
                7,
                "bits set past /32",
            ),
            (
                "route 2001:db8::/129",
                ErrorKind::WrongParameter,
                7,
                "from 0 to 128",
            ),
            (
                "route 10.0.0.0/8",
                ErrorKind::WrongParameter,
                7,
                "not a valid IPv6 address",
            ),
            (
                "route ::/0 as 4294967296",
                ErrorKind::WrongParameter,
                15,
                "AS number 4294967296",
            ),
            (
                "route ::/0 next-hop 10.0.0.1",
                ErrorKind::WrongParameter,
                21,
                "must be an IPv6",
            ),
            (
                "route ::/0 interface",
                ErrorKind::Incomplete,
                21,
                "<0-4294967295>",
            ),
            (
                "route ::/0 bogus",
                ErrorKind::Unrecognized,
                12,
                "as, next-hop, interface",
            ),
            (
                "route ::/0 interface 1 as 5",
                ErrorKind::TooManyParameters,
                24,
                "complete",
            ),
            (
                "interface vlan 4096 ifindex 1",
                ErrorKind::WrongParameter,
                16,
                "from 0 to 4095",
            ),
            ("interface 5", ErrorKind::Unrecognized, 11, "vlan"),
            (
                "label 1048576 address 10.0.0.1",
                ErrorKind::WrongParameter,
                7,
                "MPLS label",
            ),
            (
                "label 16 address ::1",
                ErrorKind::WrongParameter,
                18,
                "is IPv4",
            ),
        ];
        for (line, kind, col, detail) in cases {
            let (k, l, c, d) = err(line);
            assert_eq!((k, l, c), (*kind, 1, *col), "{line}: {d}");
            assert!(d.contains(detail), "{line}: {d}");
        }
    }

    #[test]
    fn duplicates_and_capacity() {
        let (k, l, c, d) = err("route ::/0\n\n route ::/0 as 1");
        assert_eq!((k, l, c), (ErrorKind::WrongParameter, 3, 2));
        assert!(d.contains("already defined on line 1"), "{d}");
        assert!(
            err("interface vlan 3 ifindex 1\ninterface vlan 3 ifindex 2")
                .3
                .contains("VLAN 3")
        );
        assert!(err("label 3 address 1.1.1.1\nlabel 3 address 1.1.1.2")
            .3
            .contains("label 3"));
        let many: String = (0..=ROUTE_ENTRIES)
            .map(|i| format!("route 2001:db8:{i:x}::/48\n"))
            .collect();
        let (k, l, _, _) = err(&many);
        assert_eq!((k, l), (ErrorKind::LimitExceeded, ROUTE_ENTRIES + 1));
        let many: String = (0..=LABEL_ENTRIES)
            .map(|i| format!("label {i} address 10.0.0.1\n"))
            .collect();
        let (k, l, _, _) = err(&many);
        assert_eq!((k, l), (ErrorKind::LimitExceeded, LABEL_ENTRIES + 1));
        // Every error of the file is reported.
        assert_eq!(parse_routes("x\ny\nroute ::/0").unwrap_err().0.len(), 2);
    }
}
