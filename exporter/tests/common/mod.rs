//! Shared by the exporter's integration tests: record generators and a decode helper.
#![allow(dead_code)]

use nsflow_exporter::decode::{Decoded, Set};
use nsflow_exporter::{
    Collector, Decoder, ExportConfig, ExportSource, FieldWidth, FlowRecord, Message, SourceAddr,
    Version,
};
use nsflow_rtl::{AggregationMode, EndReason, FlowKey};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The time the tests start at (UNIX ms) and the system init time of their streams.
pub const T0: u64 = 1_700_000_000_000;

/// A deterministic generator (xorshift64*), so failures reproduce.
pub struct Gen(pub u64);

impl Gen {
    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// 16 pseudo-random octets.
    pub fn bytes16(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        b
    }
}

/// A record of `mode` whose key is masked for the mode (as the device delivers it) and
/// whose AS / ifIndex values fit 2 octets when `small` is set.
pub fn record(g: &mut Gen, mode: AggregationMode, small: bool) -> FlowRecord {
    let wide = |g: &mut Gen| {
        if small {
            (g.next_u64() % 65_536) as u32
        } else {
            g.next_u64() as u32
        }
    };
    let key = FlowKey {
        src_addr: g.bytes16(),
        dst_addr: g.bytes16(),
        next_hop: g.bytes16(),
        src_as: wide(g),
        dst_as: wide(g),
        in_if: wide(g),
        out_if: wide(g),
        top_label_addr: g.next_u64() as u32,
        mpls: [
            (g.next_u64() & 0xFF_FFFF) as u32,
            (g.next_u64() & 0xFF_FFFF) as u32,
            (g.next_u64() & 0xFF_FFFF) as u32,
        ],
        vlan: (g.next_u64() % 4096) as u16,
        src_port: g.next_u64() as u16,
        dst_port: g.next_u64() as u16,
        protocol: g.next_u64() as u8,
        tos: g.next_u64() as u8,
        src_plen: (g.next_u64() % 129) as u8,
        dst_plen: (g.next_u64() % 129) as u8,
        direction: (g.next_u64() % 2) as u8,
    }
    .masked(mode.field_select(), 0, 0);
    let packets = 1 + g.next_u64() % 1_000_000;
    let start_ms = T0 + g.next_u64() % 3_600_000;
    FlowRecord {
        mode,
        key,
        flows: 1 + g.next_u64() % packets,
        packets,
        bytes: packets * 40 + g.next_u64() % 1_000_000,
        start_ms,
        end_ms: start_ms + g.next_u64() % 600_000,
        end_reason: EndReason::ALL[(g.next_u64() % 5) as usize],
    }
}

/// A config with one collector at 127.0.0.1:`port`, source 127.0.0.1 (kernel-chosen
/// port), init time [`T0`].
pub fn localhost_config(version: Version, port: u16) -> ExportConfig {
    let mut c = ExportConfig::new(
        vec![Collector::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)],
        ExportSource {
            v4: Some(SourceAddr {
                addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                port: Some(0),
            }),
            v6: None,
        },
    );
    c.version = version;
    c.system_init_ms = Some(T0);
    c
}

/// Sets the AS and ifIndex widths.
pub fn widths(c: &mut ExportConfig, as_w: FieldWidth, if_w: FieldWidth) {
    c.as_width = as_w;
    c.ifindex_width = if_w;
}

/// The exporter address the decoder keys templates on.
pub fn exporter_addr() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000)
}

/// Decodes messages in order with one decoder; panics on any error.
pub fn decode_all(msgs: &[Message]) -> Vec<Decoded> {
    let mut d = Decoder::new();
    msgs.iter()
        .map(|m| {
            d.decode(exporter_addr(), &m.bytes)
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// Template IDs defined in a decoded message.
pub fn template_ids(d: &Decoded) -> Vec<u16> {
    d.sets
        .iter()
        .flat_map(|s| match s {
            Set::Templates(t) | Set::OptionsTemplates(t) => t.iter().map(|x| x.id).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// Data set IDs in a decoded message, one entry per record.
pub fn data_ids(d: &Decoded) -> Vec<u16> {
    d.sets
        .iter()
        .flat_map(|s| match s {
            Set::Data {
                template_id,
                records,
                ..
            } => vec![*template_id; records.len()],
            _ => Vec::new(),
        })
        .collect()
}
