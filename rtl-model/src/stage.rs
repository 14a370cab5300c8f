//! The bit-exact per-entry rules both stages apply, shared by the reference aggregator
//! and hwsim so that they cannot drift: when a packet hitting an original flow ends it,
//! when FIN/RST ages it, when a counter is about to overflow, and when the scanner ages
//! an entry.

use crate::key::FlowKey;
use crate::parser::{Ipv6Fields, TCP_FIN, TCP_RST};
use crate::record::EndReason;

/// A flow's byte counter never grows past this (Huawei ages at 0xCCCCCCCC bytes).
pub const BYTE_OVERFLOW_LIMIT: u64 = 0xCCCC_CCCC;

/// Nanoseconds in a second.
pub const NS_PER_S: u64 = 1_000_000_000;

/// Counters and times of one table entry (original flow or aggregate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The entry's key.
    pub key: FlowKey,
    /// Original flows merged (1 for an original flow).
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// First packet, ns.
    pub first_ns: u64,
    /// Last packet, ns.
    pub last_ns: u64,
    /// TCP flags seen (original flows only).
    pub tcp_flags: u8,
}

impl Entry {
    /// A new original flow from its first packet.
    pub fn from_packet(key: FlowKey, ts_ns: u64, f: &Ipv6Fields) -> Self {
        Self {
            key,
            flows: 1,
            packets: 1,
            bytes: u64::from(f.bytes),
            first_ns: ts_ns,
            last_ns: ts_ns,
            tcp_flags: f.tcp_flags,
        }
    }

    /// A new aggregate from an original flow, keyed by the masked key.
    pub fn from_flow(key: FlowKey, flow: &Entry) -> Self {
        Self {
            key,
            tcp_flags: 0,
            ..*flow
        }
    }

    /// Adds an original flow to an aggregate.
    pub fn merge(&mut self, flow: &Entry) {
        self.flows += flow.flows;
        self.packets += flow.packets;
        self.bytes += flow.bytes;
        self.first_ns = self.first_ns.min(flow.first_ns);
        self.last_ns = self.last_ns.max(flow.last_ns);
    }

    /// Adds a packet to an original flow.
    pub fn add_packet(&mut self, ts_ns: u64, f: &Ipv6Fields) {
        self.packets += 1;
        self.bytes += u64::from(f.bytes);
        self.last_ns = self.last_ns.max(ts_ns);
        self.tcp_flags |= f.tcp_flags;
    }

    /// Whether a timer has expired at `now_ns`: inactive first (as the product documents,
    /// "regardless of whether the active aging time elapses"), then active.
    pub fn expired(&self, now_ns: u64, active_s: u32, inactive_s: u32) -> Option<EndReason> {
        if now_ns.saturating_sub(self.last_ns) >= u64::from(inactive_s) * NS_PER_S {
            Some(EndReason::Idle)
        } else if now_ns.saturating_sub(self.first_ns) >= u64::from(active_s) * NS_PER_S {
            Some(EndReason::Active)
        } else {
            None
        }
    }
}

/// Whether the packet that was just added to an existing original flow ends it: TCP FIN
/// or RST (when FIN/RST aging is on), or the byte counter reaching the overflow limit.
/// A flow's first packet never ends it on FIN/RST.
pub fn ends_flow(entry: &Entry, f: &Ipv6Fields, first_packet: bool, fin_rst_aging: bool) -> bool {
    let fin_rst = f.protocol == 6 && f.tcp_flags & (TCP_FIN | TCP_RST) != 0;
    (fin_rst_aging && fin_rst && !first_packet) || entry.bytes >= BYTE_OVERFLOW_LIMIT
}
