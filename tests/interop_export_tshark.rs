//! tshark's CFLOW dissector decodes nsflow's v9 and IPFIX messages of all 14 modes, in
//! every AS / ifIndex width, with zero malformed packets and zero expert errors, and every
//! field value it prints equals what was sent (field by field, record by record).
//!
//! The exported UDP payloads are written into a pcap (raw IPv4 / UDP, link type 101) and
//! read with `tshark -r FILE -d udp.port==PORT,cflow`. Expected values are formatted here
//! from the sent `FlowRecord`s, independently of the encoder.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_exporter::template::all_formats;
use nsflow_exporter::{
    ExportConfig, ExportSource, ExportStream, FieldWidth, FlowRecord, Format, LossCounters,
    Message, Version,
};
use nsflow_rtl::{AggregationMode as M, EndReason, FlowKey};
use nsflow_tests::require_tool;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::Command;

const PORT: u16 = 29955;
const INIT_MS: u64 = 1_700_000_000_000;
const EXPORT_MS: u64 = INIT_MS + 7_200_000;
const PER_MODE: usize = 5;

struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn addr(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next().to_be_bytes());
        b[8..].copy_from_slice(&self.next().to_be_bytes());
        b
    }
    /// A value that needs the full width: above 65535 for 4 octets.
    fn wide(&mut self, w: FieldWidth) -> u32 {
        match w {
            FieldWidth::Two => (self.next() % 65_536) as u32,
            FieldWidth::Four => 65_536 + (self.next() % (u64::from(u32::MAX) - 65_536)) as u32,
        }
    }
}

fn record(g: &mut Gen, mode: M, f: Format) -> FlowRecord {
    let key = FlowKey {
        src_addr: g.addr(),
        dst_addr: g.addr(),
        next_hop: g.addr(),
        src_as: g.wide(f.as_width),
        dst_as: g.wide(f.as_width),
        in_if: g.wide(f.ifindex_width),
        out_if: g.wide(f.ifindex_width),
        top_label_addr: g.next() as u32,
        mpls: [
            (g.next() & 0xFF_FFFF) as u32,
            (g.next() & 0xFF_FFFF) as u32,
            (g.next() & 0xFF_FFFF) as u32,
        ],
        vlan: (g.next() % 4096) as u16,
        src_port: g.next() as u16,
        dst_port: g.next() as u16,
        protocol: [6u8, 17, 58, 132][(g.next() % 4) as usize],
        tos: g.next() as u8,
        src_plen: (g.next() % 129) as u8,
        dst_plen: (g.next() % 129) as u8,
        direction: (g.next() % 2) as u8,
    }
    .masked(mode.field_select(), 0, 0);
    let packets = 1 + g.next() % 10_000_000;
    let start_ms = INIT_MS + 1_000 + g.next() % 3_600_000;
    FlowRecord {
        mode,
        key,
        flows: 1 + g.next() % packets,
        packets,
        bytes: packets * 40 + g.next() % 100_000_000,
        start_ms,
        end_ms: start_ms + g.next() % 1_800_000,
        end_reason: EndReason::ALL[(g.next() % 5) as usize],
    }
}

/// Writes UDP payloads as raw IPv4 packets 127.0.0.1:40000 → 127.0.0.1:PORT.
fn write_pcap(path: &Path, payloads: &[Vec<u8>]) {
    let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65_535u32.to_le_bytes());
    f.extend_from_slice(&101u32.to_le_bytes()); // LINKTYPE_RAW
    for p in payloads {
        let total = 28 + p.len();
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&(total as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        let sum = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum::<u32>();
        let sum = (sum & 0xffff) + (sum >> 16);
        let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        ip.extend_from_slice(&40_000u16.to_be_bytes());
        ip.extend_from_slice(&PORT.to_be_bytes());
        ip.extend_from_slice(&((8 + p.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0]); // no UDP checksum (IPv4)
        ip.extend_from_slice(p);
        let secs = (EXPORT_MS / 1000) as u32;
        f.extend_from_slice(&secs.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        f.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        f.extend_from_slice(&ip);
    }
    std::fs::write(path, f).unwrap();
}

fn tshark(pcap: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .env("TZ", "UTC")
        .arg("-r")
        .arg(pcap)
        .args(["-d", &format!("udp.port=={PORT},cflow")])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The fields compared, in `-e` order.
const FIELDS: [&str; 31] = [
    "cflow.flowset_id",
    "cflow.sequence",
    "cflow.flows",
    "cflow.packets",
    "cflow.octets",
    "cflow.timestart",
    "cflow.timeend",
    "cflow.abstimestart",
    "cflow.abstimeend",
    "cflow.srcas",
    "cflow.dstas",
    "cflow.inputint",
    "cflow.outputint",
    "cflow.tos",
    "cflow.srcaddrv6",
    "cflow.dstaddrv6",
    "cflow.srcnetv6",
    "cflow.dstnetv6",
    "cflow.srcmaskv6",
    "cflow.dstmaskv6",
    "cflow.bgpnexthopv6",
    "cflow.protocol",
    "cflow.srcport",
    "cflow.dstport",
    "cflow.mpls_label",
    "cflow.mpls_exp",
    "cflow.mpls_bos",
    "cflow.toplabeladdr",
    "cflow.vlanid",
    "cflow.direction",
    "cflow.flow_end_reason",
];

/// "Nov 14, 2023 22:14:10.250000000 UTC" → UNIX ms.
fn parse_abs(s: &str) -> u64 {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let p: Vec<&str> = s
        .split([' ', ',', ':', '.'])
        .filter(|x| !x.is_empty())
        .collect();
    let m = months.iter().position(|x| *x == p[0]).unwrap() as i64 + 1;
    let (d, y): (i64, i64) = (p[1].parse().unwrap(), p[2].parse().unwrap());
    let (hh, mm, ss): (u64, u64, u64) = (
        p[3].parse().unwrap(),
        p[4].parse().unwrap(),
        p[5].parse().unwrap(),
    );
    let ms: u64 = p[6][..3].parse().unwrap();
    // Days from civil (H. Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe - 719_468) as u64;
    ((days * 86_400 + hh * 3_600 + mm * 60 + ss) * 1_000) + ms
}

fn rel(ms: u64) -> String {
    let d = ms - INIT_MS;
    format!("{}.{:03}000000", d / 1000, d % 1000)
}

/// What tshark must print for `recs` (one data message of one mode), per field.
fn expected(recs: &[FlowRecord], f: Format, seq: u32) -> BTreeMap<&'static str, String> {
    let mode = recs[0].mode;
    let ipfix = f.version == Version::Ipfix;
    let sel = |m: &[M]| m.contains(&mode);
    let mut e: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut put = |k: &'static str, v: String| e.entry(k).or_default().push(v);
    for r in recs {
        let k = &r.key;
        put("cflow.flows", r.flows.to_string());
        put("cflow.packets", r.packets.to_string());
        put("cflow.octets", r.bytes.to_string());
        if ipfix {
            put("cflow.abstimestart", r.start_ms.to_string());
            put("cflow.abstimeend", r.end_ms.to_string());
            put("cflow.flow_end_reason", (r.end_reason as u8).to_string());
        } else {
            put("cflow.timestart", rel(r.start_ms));
            put("cflow.timeend", rel(r.end_ms));
        }
        put("cflow.direction", k.direction.to_string());
        let v6 = |a: [u8; 16]| Ipv6Addr::from(a).to_string();
        let (sa, da) = if ipfix {
            ("cflow.srcnetv6", "cflow.dstnetv6")
        } else {
            ("cflow.srcaddrv6", "cflow.dstaddrv6")
        };
        use M::*;
        if sel(&[BgpNexthopTos]) {
            put("cflow.bgpnexthopv6", v6(k.next_hop));
        }
        if sel(&[Prefix, PrefixTos, SourcePrefix, SourcePrefixTos]) {
            put(sa, v6(k.src_addr));
            put("cflow.srcmaskv6", k.src_plen.to_string());
        }
        if sel(&[Prefix, PrefixTos, DestinationPrefix, DestinationPrefixTos]) {
            put(da, v6(k.dst_addr));
            put("cflow.dstmaskv6", k.dst_plen.to_string());
        }
        if sel(&[
            As,
            AsTos,
            BgpNexthopTos,
            Prefix,
            PrefixTos,
            SourcePrefix,
            SourcePrefixTos,
        ]) {
            put("cflow.srcas", k.src_as.to_string());
        }
        if sel(&[
            As,
            AsTos,
            BgpNexthopTos,
            Prefix,
            PrefixTos,
            DestinationPrefix,
            DestinationPrefixTos,
        ]) {
            put("cflow.dstas", k.dst_as.to_string());
        }
        if sel(&[
            As,
            AsTos,
            BgpNexthopTos,
            IndexTos,
            Prefix,
            PrefixTos,
            ProtocolPortTos,
            SourcePrefix,
            SourcePrefixTos,
            VlanId,
        ]) {
            put("cflow.inputint", k.in_if.to_string());
        }
        if sel(&[
            As,
            AsTos,
            BgpNexthopTos,
            IndexTos,
            Prefix,
            PrefixTos,
            ProtocolPortTos,
            DestinationPrefix,
            DestinationPrefixTos,
        ]) {
            put("cflow.outputint", k.out_if.to_string());
        }
        if sel(&[
            AsTos,
            BgpNexthopTos,
            DestinationPrefixTos,
            IndexTos,
            PrefixTos,
            ProtocolPortTos,
            SourcePrefixTos,
        ]) {
            put("cflow.tos", format!("0x{:02x}", k.tos));
        }
        if sel(&[ProtocolPort, ProtocolPortTos]) {
            put("cflow.protocol", k.protocol.to_string());
            put("cflow.srcport", k.src_port.to_string());
            put("cflow.dstport", k.dst_port.to_string());
        }
        if sel(&[MplsLabel]) {
            for s in k.mpls {
                put("cflow.mpls_label", (s >> 4).to_string());
                put("cflow.mpls_exp", ((s >> 1) & 7).to_string());
                put("cflow.mpls_bos", (s & 1).to_string());
            }
            put(
                "cflow.toplabeladdr",
                Ipv4Addr::from(k.top_label_addr).to_string(),
            );
        }
        if sel(&[VlanId]) {
            put("cflow.vlanid", k.vlan.to_string());
        }
    }
    let mut out: BTreeMap<&'static str, String> =
        FIELDS.iter().map(|f| (*f, String::new())).collect();
    for (k, v) in e {
        out.insert(k, v.join("|"));
    }
    out.insert("cflow.flowset_id", mode.template_id().to_string());
    out.insert("cflow.sequence", seq.to_string());
    out
}

/// Runs one format: returns (data frames checked, records checked).
fn check_format(dir: &Path, f: Format) -> (usize, usize) {
    let mut cfg = ExportConfig::new(vec![], ExportSource::default());
    cfg.version = f.version;
    cfg.as_width = f.as_width;
    cfg.ifindex_width = f.ifindex_width;
    cfg.sequence_fixed = true;
    cfg.system_init_ms = Some(INIT_MS);
    cfg.observation_domain = 42;
    cfg.modes = M::ALL.to_vec();
    cfg.options_refresh_packets = 14;
    let mut s = ExportStream::new(&cfg, EXPORT_MS);
    s.set_loss_counters(LossCounters {
        not_sent_flows: 11,
        not_sent_packets: 22,
        not_sent_octets: 33,
        ignored_packets: 44,
        ignored_octets: 55,
    });
    // The options data sent at start carries zero counters; the refresh after the 14th
    // data message carries these.
    let mut msgs: Vec<Message> = s.take_messages();
    let mut g =
        Gen(0x5eed ^ (f.version as u64) << 8 ^ (f.as_width as u64) << 4 ^ f.ifindex_width as u64);
    let mut sent: Vec<Vec<FlowRecord>> = Vec::new();
    for mode in M::ALL {
        let recs: Vec<FlowRecord> = (0..PER_MODE).map(|_| record(&mut g, mode, f)).collect();
        for r in &recs {
            s.push(r, EXPORT_MS);
        }
        s.flush(EXPORT_MS);
        sent.push(recs);
    }
    msgs.extend(s.take_messages());
    // Start: v9 templates + options templates in one packet, then options data; IPFIX:
    // flow templates (domain 42), options templates and options data (domain 0). Then one
    // data message per mode, then the options refresh: options templates, options data.
    let start = if f.version == Version::V9 { 2 } else { 3 };
    assert_eq!(msgs.len(), start + 14 + 2, "{f:?}");
    let name = format!(
        "{:?}-as{}-if{}.pcap",
        f.version,
        f.as_width.octets(),
        f.ifindex_width.octets()
    );
    let pcap = dir.join(name);
    write_pcap(
        &pcap,
        &msgs.iter().map(|m| m.bytes.clone()).collect::<Vec<_>>(),
    );

    // Zero malformed packets and zero expert errors; every frame dissected as CFLOW.
    let bad = tshark(
        &pcap,
        &["-Y", "_ws.malformed || _ws.expert.severity >= 0x00800000 || cflow.sequence_analysis.expected_sn", "-T", "fields", "-e", "frame.number"],
    );
    assert_eq!(
        bad.trim(),
        "",
        "{f:?}: malformed / expert error / sequence gap frames"
    );
    let cflow = tshark(
        &pcap,
        &["-Y", "cflow", "-T", "fields", "-e", "frame.number"],
    );
    assert_eq!(cflow.lines().count(), msgs.len(), "{f:?}");

    let mut args: Vec<&str> = vec![
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
        "-E",
        "separator=\t",
    ];
    for fl in FIELDS {
        args.push("-e");
        args.push(fl);
    }
    let out = tshark(&pcap, &args);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), msgs.len());
    // Expected sequence: RFC 7011 (fixed) counts data records sent before in the same
    // stream (header domain, bytes 12..16); v9 counts packets.
    let mut seqs = Vec::new();
    let mut next = BTreeMap::<[u8; 4], u32>::new();
    for m in &msgs {
        let domain: [u8; 4] = match f.version {
            Version::V9 => [0; 4],
            Version::Ipfix => m.bytes[12..16].try_into().unwrap(),
        };
        let n = next.entry(domain).or_insert(0);
        seqs.push(*n);
        *n += match f.version {
            Version::V9 => 1,
            Version::Ipfix => m.data_records,
        };
    }
    // The options data at start (counters 0 then, timeouts 1800 / 300).
    let opt_frame = format!("frame.number == {start}");
    let opt = tshark(
        &pcap,
        &[
            "-Y",
            &opt_frame,
            "-T",
            "fields",
            "-E",
            "separator=,",
            "-e",
            "cflow.notsent_flows",
            "-e",
            "cflow.ignore_octets",
            "-e",
            "cflow.flow_active_timeout",
            "-e",
            "cflow.flow_inactive_timeout",
            "-e",
            "cflow.sequence",
        ],
    );
    assert_eq!(
        opt.trim(),
        format!("0,0,1800,300,{}", seqs[start - 1]),
        "{f:?}"
    );
    let last = format!("frame.number == {}", msgs.len());
    let opt = tshark(
        &pcap,
        &[
            "-Y",
            &last,
            "-T",
            "fields",
            "-E",
            "separator=,",
            "-e",
            "cflow.notsent_flows",
            "-e",
            "cflow.notsent_packets",
            "-e",
            "cflow.notsent_octets",
            "-e",
            "cflow.ignore_packets",
            "-e",
            "cflow.ignore_octets",
            "-e",
            "cflow.flow_active_timeout",
            "-e",
            "cflow.flow_inactive_timeout",
            "-e",
            "cflow.sequence",
        ],
    );
    assert_eq!(
        opt.trim(),
        format!("11,22,33,44,55,1800,300,{}", seqs[msgs.len() - 1]),
        "{f:?}"
    );
    let mut records = 0;
    for (i, recs) in sent.iter().enumerate() {
        let frame = i + start;
        let cols: Vec<&str> = lines[frame].split('\t').collect();
        assert_eq!(cols.len(), FIELDS.len());
        let got: BTreeMap<&str, String> = FIELDS
            .iter()
            .zip(cols)
            .map(|(k, v)| {
                let v = if k.starts_with("cflow.abstime") && !v.is_empty() {
                    v.split('|')
                        .map(|t| parse_abs(t).to_string())
                        .collect::<Vec<_>>()
                        .join("|")
                } else {
                    v.to_string()
                };
                (*k, v)
            })
            .collect();
        let want = expected(recs, f, seqs[frame]);
        for k in FIELDS {
            assert_eq!(got[k], want[k], "{f:?} mode {} field {k}", recs[0].mode);
        }
        records += recs.len();
    }
    (sent.len(), records)
}

#[test]
fn tshark_decodes_all_modes_versions_and_widths_field_by_field() {
    if !require_tool("tshark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut frames = 0;
    let mut records = 0;
    for f in all_formats() {
        let (fr, r) = check_format(dir.path(), f);
        frames += fr;
        records += r;
    }
    assert_eq!(frames, 14 * 8);
    assert_eq!(records, 14 * 8 * PER_MODE);
}

#[test]
fn the_malformed_check_catches_a_broken_message() {
    // Control for the check above: a message with a broken set must be flagged.
    if !require_tool("tshark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ExportConfig::new(vec![], ExportSource::default());
    cfg.version = Version::Ipfix;
    cfg.modes = vec![M::As];
    let mut s = ExportStream::new(&cfg, EXPORT_MS);
    let mut msgs: Vec<Vec<u8>> = s.take_messages().into_iter().map(|m| m.bytes).collect();
    let mut g = Gen(3);
    let f = cfg.format();
    s.push(&record(&mut g, M::As, f), EXPORT_MS);
    s.flush(EXPORT_MS);
    let mut m = s.take_messages().remove(0).bytes;
    m[18..20].copy_from_slice(&2u16.to_be_bytes()); // data set length 2: below its header
    msgs.push(m);
    let broken_frame = msgs.len().to_string();
    let pcap = dir.path().join("broken.pcap");
    write_pcap(&pcap, &msgs);
    let bad = tshark(
        &pcap,
        &[
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 0x00800000",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ],
    );
    assert_eq!(bad.trim(), broken_frame);
}
