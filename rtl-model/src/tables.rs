//! The lookup tables the driver programs through BAR windows, and the keying step that
//! turns a parsed packet into its full key (DEVICE.md step 2).
//!
//! Route table: longest-prefix match over up to [`ROUTE_ENTRIES`] entries, ties to the
//! lower index; a miss gives prefix length 0, AS 0, next hop :: and egress ifIndex 0.
//! Interface table: ingress ifIndex by outer VLAN ID (entry 0 = untagged), 4096 entries.
//! Label table: top MPLS label → IPv4 address, up to [`LABEL_ENTRIES`] entries.

use crate::key::{mask_prefix, FlowKey};
use crate::parser::Ipv6Fields;

/// Route table capacity of the contract's build.
pub const ROUTE_ENTRIES: usize = 1024;
/// Interface table entries (one per VLAN ID).
pub const IFACE_ENTRIES: usize = 4096;
/// Label table capacity.
pub const LABEL_ENTRIES: usize = 64;

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Route {
    /// Prefix (bits past `len` are ignored).
    pub prefix: [u8; 16],
    /// Prefix length 0–128.
    pub len: u8,
    /// Origin AS.
    pub origin_as: u32,
    /// BGP next hop.
    pub next_hop: [u8; 16],
    /// Egress ifIndex.
    pub out_if: u32,
}

impl Route {
    /// Whether `addr` falls inside this route's prefix.
    pub fn matches(&self, addr: &[u8; 16]) -> bool {
        mask_prefix(*addr, self.len) == mask_prefix(self.prefix, self.len)
    }
}

/// A label-table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LabelEntry {
    /// 20-bit label value.
    pub label: u32,
    /// The label's IPv4 address (FEC).
    pub addr: u32,
}

/// Why a table could not take an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// More entries than the table holds.
    #[error("{table} table holds {capacity} entries, {requested} given")]
    Full {
        /// Which table.
        table: &'static str,
        /// Its capacity.
        capacity: usize,
        /// Entries given.
        requested: usize,
    },
    /// A value outside its field.
    #[error("{0}")]
    Invalid(String),
}

/// The route, interface and label tables as the device holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    routes: Vec<(usize, Route)>,
    ifindex: Vec<u32>,
    labels: Vec<LabelEntry>,
}

impl Default for Tables {
    fn default() -> Self {
        Self {
            routes: Vec::new(),
            ifindex: vec![0; IFACE_ENTRIES],
            labels: Vec::new(),
        }
    }
}

impl Tables {
    /// Tables holding `routes` (in index order), ingress ifIndex by VLAN, and labels.
    pub fn new(
        routes: &[Route],
        ifaces: &[(u16, u32)],
        labels: &[LabelEntry],
    ) -> Result<Self, TableError> {
        let mut t = Self::default();
        if routes.len() > ROUTE_ENTRIES {
            return Err(TableError::Full {
                table: "route",
                capacity: ROUTE_ENTRIES,
                requested: routes.len(),
            });
        }
        if labels.len() > LABEL_ENTRIES {
            return Err(TableError::Full {
                table: "label",
                capacity: LABEL_ENTRIES,
                requested: labels.len(),
            });
        }
        for r in routes {
            if r.len > 128 {
                return Err(TableError::Invalid(format!(
                    "route prefix length {} > 128",
                    r.len
                )));
            }
        }
        for l in labels {
            if l.label > 0xF_FFFF {
                return Err(TableError::Invalid(format!(
                    "MPLS label {} > 1048575",
                    l.label
                )));
            }
        }
        for (i, r) in routes.iter().enumerate() {
            t.set_route(i, Some(*r));
        }
        for (vlan, ifindex) in ifaces {
            let slot = t
                .ifindex
                .get_mut(usize::from(*vlan))
                .ok_or_else(|| TableError::Invalid(format!("VLAN ID {vlan} > 4095")))?;
            *slot = *ifindex;
        }
        t.labels = labels.to_vec();
        Ok(t)
    }

    /// Writes (or with `None` invalidates) route slot `index` (callers bound-check it).
    pub fn set_route(&mut self, index: usize, route: Option<Route>) {
        self.routes.retain(|(i, _)| *i != index);
        if let Some(r) = route {
            // Longest first, then lower index: the first match is the answer.
            let pos = self
                .routes
                .partition_point(|(i, e)| e.len > r.len || (e.len == r.len && *i < index));
            self.routes.insert(pos, (index, r));
        }
    }

    /// Route slot `index`, if valid.
    pub fn route(&self, index: usize) -> Option<Route> {
        self.routes
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, r)| *r)
    }

    /// Ingress ifIndex of VLAN `vlan` (entry 0 = untagged); 0 when out of range.
    pub fn ifindex(&self, vlan: u16) -> u32 {
        self.ifindex.get(usize::from(vlan)).copied().unwrap_or(0)
    }

    /// Sets the ingress ifIndex of VLAN `vlan` (ignored when out of range).
    pub fn set_ifindex(&mut self, vlan: u16, ifindex: u32) {
        if let Some(s) = self.ifindex.get_mut(usize::from(vlan)) {
            *s = ifindex;
        }
    }

    /// Label slots in order.
    pub fn labels(&self) -> &[LabelEntry] {
        &self.labels
    }

    /// Replaces the label table (entries beyond [`LABEL_ENTRIES`] are dropped).
    pub fn set_labels(&mut self, labels: Vec<LabelEntry>) {
        self.labels = labels;
        self.labels.truncate(LABEL_ENTRIES);
    }

    /// Longest-prefix match of `addr`.
    pub fn lookup(&self, addr: &[u8; 16]) -> Option<&Route> {
        self.routes.iter().map(|(_, r)| r).find(|r| r.matches(addr))
    }

    /// The full stage-1 key of a parsed packet: packet fields plus route, interface and
    /// label results.
    pub fn key(&self, f: &Ipv6Fields) -> FlowKey {
        let mut k = f.key_fields();
        if let Some(r) = self.lookup(&f.src) {
            k.src_plen = r.len;
            k.src_as = r.origin_as;
        }
        if let Some(r) = self.lookup(&f.dst) {
            k.dst_plen = r.len;
            k.dst_as = r.origin_as;
            k.next_hop = r.next_hop;
            k.out_if = r.out_if;
        }
        k.in_if = self.ifindex(f.vlans[0]);
        if f.mpls[0] != 0 {
            let top = f.mpls[0] >> 4;
            k.top_label_addr = self
                .labels
                .iter()
                .find(|l| l.label == top)
                .map_or(0, |l| l.addr);
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn a(s: &str) -> [u8; 16] {
        s.parse::<Ipv6Addr>().unwrap().octets()
    }

    #[test]
    fn longest_prefix_wins_and_misses_are_zero() {
        let routes = [
            Route {
                prefix: a("2001:db8::"),
                len: 32,
                origin_as: 1,
                out_if: 10,
                ..Route::default()
            },
            Route {
                prefix: a("2001:db8:1::"),
                len: 48,
                origin_as: 2,
                out_if: 20,
                next_hop: a("fe80::2"),
            },
            Route {
                prefix: a("2001:db8:1::"),
                len: 48,
                origin_as: 3,
                ..Route::default()
            },
        ];
        let t = Tables::new(
            &routes,
            &[(0, 5), (100, 6)],
            &[LabelEntry {
                label: 16,
                addr: 0x0a000001,
            }],
        )
        .unwrap();
        assert_eq!(
            t.lookup(&a("2001:db8:1::9")).unwrap().origin_as,
            2,
            "longest, then lowest index"
        );
        assert_eq!(t.lookup(&a("2001:db8:2::9")).unwrap().origin_as, 1);
        assert!(t.lookup(&a("2002::1")).is_none());
        let f = Ipv6Fields {
            src: a("2002::1"),
            dst: a("2001:db8:1::9"),
            vlans: [100, 0],
            mpls: [16 << 4 | 1, 0, 0],
            ..Ipv6Fields::default()
        };
        let k = t.key(&f);
        assert_eq!((k.src_plen, k.src_as), (0, 0));
        assert_eq!((k.dst_plen, k.dst_as, k.out_if, k.in_if), (48, 2, 20, 6));
        assert_eq!(k.next_hop, a("fe80::2"));
        assert_eq!(k.top_label_addr, 0x0a000001);
    }

    #[test]
    fn capacity_and_ranges_are_checked() {
        let many = vec![Route::default(); ROUTE_ENTRIES + 1];
        assert!(matches!(
            Tables::new(&many, &[], &[]),
            Err(TableError::Full { .. })
        ));
        assert!(Tables::new(&[], &[(4096, 1)], &[]).is_err());
        let bad = Route {
            len: 129,
            ..Route::default()
        };
        assert!(Tables::new(&[bad], &[], &[]).is_err());
    }
}
