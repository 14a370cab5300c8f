//! The table windows: the driver programs the route, interface and label tables one
//! entry at a time through `ROUTE_*`, `IFACE_*` and `LABEL_*` (index, data words, then a
//! command: write, read back, invalidate all). The tables themselves are the contract's
//! `nsflow_rtl::tables::Tables`, which keys every packet.

use crate::regfile::RegFile;
use nsflow_rtl::regs::{self, window_op, RouteMeta};
use nsflow_rtl::tables::{LabelEntry, Route, Tables, LABEL_ENTRIES, ROUTE_ENTRIES};

/// The lookup tables and the label slots behind the label window.
#[derive(Debug, Clone)]
pub(crate) struct Windows {
    /// The tables packets are keyed with.
    pub tables: Tables,
    labels: [Option<LabelEntry>; LABEL_ENTRIES],
}

fn words(rf: &RegFile, base: &regs::Register) -> [u8; 16] {
    let mut a = [0u8; 16];
    for (i, chunk) in a.chunks_mut(4).enumerate() {
        chunk.copy_from_slice(&rf.get(base.at(i as u32)).to_be_bytes());
    }
    a
}

fn set_words(rf: &mut RegFile, base: &regs::Register, a: &[u8; 16]) {
    for (i, chunk) in a.chunks(4).enumerate() {
        rf.set(
            base.at(i as u32),
            u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]),
        );
    }
}

impl Windows {
    /// Empty tables (the reset state).
    pub(crate) fn new() -> Self {
        Self {
            tables: Tables::default(),
            labels: [None; LABEL_ENTRIES],
        }
    }

    /// `ROUTE_CMD` with operation `op`.
    pub(crate) fn route_cmd(&mut self, rf: &mut RegFile, op: u32) {
        let index = regs::field::ROUTE_INDEX::index.get(rf.get(regs::ROUTE_INDEX.offset)) as usize;
        match op {
            window_op::WRITE if index < ROUTE_ENTRIES => {
                let meta = RouteMeta(rf.get(regs::ROUTE_META.offset));
                let route = meta.valid().then(|| Route {
                    prefix: words(rf, &regs::ROUTE_PREFIX),
                    len: meta.prefix_len().min(128),
                    origin_as: rf.get(regs::ROUTE_AS.offset),
                    next_hop: words(rf, &regs::ROUTE_NEXTHOP),
                    out_if: rf.get(regs::ROUTE_OUTIF.offset),
                });
                self.tables.set_route(index, route);
            }
            window_op::READ if index < ROUTE_ENTRIES => {
                let r = self.tables.route(index);
                let e = r.unwrap_or_default();
                set_words(rf, &regs::ROUTE_PREFIX, &e.prefix);
                set_words(rf, &regs::ROUTE_NEXTHOP, &e.next_hop);
                let mut meta = RouteMeta(0);
                meta.set_prefix_len(e.len);
                meta.set_valid(r.is_some());
                rf.set(regs::ROUTE_META.offset, meta.0);
                rf.set(regs::ROUTE_AS.offset, e.origin_as);
                rf.set(regs::ROUTE_OUTIF.offset, e.out_if);
            }
            window_op::CLEAR => {
                for i in 0..ROUTE_ENTRIES {
                    self.tables.set_route(i, None);
                }
            }
            _ => {}
        }
    }

    /// `IFACE_CMD` with operation `op` (the interface table has no clear).
    pub(crate) fn iface_cmd(&mut self, rf: &mut RegFile, op: u32) {
        let vlan = regs::field::IFACE_INDEX::vlan.get(rf.get(regs::IFACE_INDEX.offset)) as u16;
        match op {
            window_op::WRITE => self
                .tables
                .set_ifindex(vlan, rf.get(regs::IFACE_IFINDEX.offset)),
            window_op::READ => rf.set(regs::IFACE_IFINDEX.offset, self.tables.ifindex(vlan)),
            _ => {}
        }
    }

    /// `LABEL_CMD` with operation `op`.
    pub(crate) fn label_cmd(&mut self, rf: &mut RegFile, op: u32) {
        let index = regs::field::LABEL_INDEX::index.get(rf.get(regs::LABEL_INDEX.offset)) as usize;
        let value = rf.get(regs::LABEL_VALUE.offset);
        match op {
            window_op::WRITE if index < LABEL_ENTRIES => {
                self.labels[index] =
                    (regs::field::LABEL_VALUE::valid.get(value) == 1).then(|| LabelEntry {
                        label: regs::field::LABEL_VALUE::label.get(value),
                        addr: rf.get(regs::LABEL_ADDR.offset),
                    });
                self.sync_labels();
            }
            window_op::READ if index < LABEL_ENTRIES => {
                let e = self.labels[index];
                let v = e.map_or(0, |l| {
                    use regs::field::LABEL_VALUE::{label, valid};
                    valid.set(label.set(0, l.label), 1)
                });
                rf.set(regs::LABEL_VALUE.offset, v);
                rf.set(regs::LABEL_ADDR.offset, e.map_or(0, |l| l.addr));
            }
            window_op::CLEAR => {
                self.labels = [None; LABEL_ENTRIES];
                self.sync_labels();
            }
            _ => {}
        }
    }

    fn sync_labels(&mut self) {
        self.tables
            .set_labels(self.labels.iter().flatten().copied().collect());
    }
}
