//! The decoder reads every v9 / IPFIX message that real exporters sent, in
//! `shared/pcaps/netflow` (pcap captures and raw `.dat` UDP payloads), without error.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_exporter::decode::{Decoded, Set, SkipReason};
use nsflow_exporter::{DecodeError, Decoder};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

fn netflow_dir() -> Option<PathBuf> {
    let d = std::env::var_os("NSFLOW_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
        .join("pcaps/netflow");
    if d.is_dir() {
        return Some(d);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!ci, "shared/pcaps/netflow not found at {}", d.display());
    eprintln!("SKIPPED: {} not found", d.display());
    None
}

/// (source address, UDP payload) of every UDP datagram in an Ethernet pcap.
fn udp_payloads(path: &Path) -> Vec<(SocketAddr, Vec<u8>)> {
    let f = std::fs::File::open(path).unwrap();
    let mut r = pcap_file::pcap::PcapReader::new(f).unwrap();
    assert_eq!(
        r.header().datalink,
        pcap_file::DataLink::ETHERNET,
        "{}",
        path.display()
    );
    let mut out = Vec::new();
    while let Some(pkt) = r.next_packet() {
        let d = pkt.unwrap().data.into_owned();
        let mut ethertype = u16::from_be_bytes([d[12], d[13]]);
        let mut off = 14;
        while ethertype == 0x8100 || ethertype == 0x88a8 {
            ethertype = u16::from_be_bytes([d[off + 2], d[off + 3]]);
            off += 4;
        }
        let (src, proto, l4) = match ethertype {
            0x0800 => {
                let ihl = usize::from(d[off] & 0x0f) * 4;
                let frag = u16::from_be_bytes([d[off + 6], d[off + 7]]) & 0x3fff;
                assert_eq!(frag, 0, "IPv4 fragment in {}", path.display());
                let a: [u8; 4] = d[off + 12..off + 16].try_into().unwrap();
                (IpAddr::V4(Ipv4Addr::from(a)), d[off + 9], off + ihl)
            }
            0x86dd => {
                let a: [u8; 16] = d[off + 8..off + 24].try_into().unwrap();
                (IpAddr::V6(Ipv6Addr::from(a)), d[off + 6], off + 40)
            }
            _ => continue,
        };
        if proto != 17 {
            continue; // BGP over TCP in one capture
        }
        let sport = u16::from_be_bytes([d[l4], d[l4 + 1]]);
        let ulen = usize::from(u16::from_be_bytes([d[l4 + 4], d[l4 + 5]]));
        out.push((SocketAddr::new(src, sport), d[l4 + 8..l4 + ulen].to_vec()));
    }
    out
}

#[derive(Default, Debug)]
struct Tally {
    messages: usize,
    templates: usize,
    data_records: usize,
    no_template_sets: usize,
}

impl Tally {
    fn add(&mut self, d: &Decoded) {
        self.messages += 1;
        self.templates += d.template_records();
        self.data_records += d.data_records();
        self.no_template_sets += d
            .sets
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    Set::Skipped {
                        reason: SkipReason::NoTemplate,
                        ..
                    }
                )
            })
            .count();
    }
}

fn vendor_prefix(name: &str) -> &str {
    ["_opttpl", "_tpl", "_data"]
        .iter()
        .filter_map(|m| name.find(m))
        .min()
        .map_or(name, |i| &name[..i])
}

/// Data records (options data included) per capture, as tshark 4.0.17 counts them
/// (`tshark -V -d udp.port==N,cflow`, lines "Flow N"): an independent oracle.
const TSHARK_RECORDS: [(&str, usize); 15] = [
    ("akvorado-ipfix-ipfixprobe.pcap", 4),
    ("akvorado-ipfix-juniper-cpid.pcap", 1),
    ("akvorado-ipfix-mpls-ipv6.pcap", 3),
    ("akvorado-ipfix-physical-interfaces.pcap", 9),
    ("akvorado-nfv9-icmp.pcap", 4),
    ("akvorado-nfv9-ipv6-multisampling.pcap", 14),
    ("ndpi-ipfix-fritzbox.pcap", 0),
    ("ndpi-nfv9-no-template.pcap", 0),
    ("pmacct-ipfix-cisco-asr9k.pcap", 12),
    ("pmacct-ipfix-cisco-ipv6-sampling.pcap", 4),
    ("pmacct-ipfix-cisco-ipv6-transport.pcap", 13),
    ("pmacct-ipfix-cisco-mpls-bgp-ipv6.pcap", 113),
    ("pmacct-ipfix-huawei-vrf.pcap", 4),
    ("pmacct-nfv9-cisco-asr9k-2sources.pcap", 35),
    ("pmacct-nfv9-cisco-asr9k.pcap", 51),
];

#[test]
fn decodes_every_real_exporter_pcap() {
    let Some(dir) = netflow_dir() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "{} pcaps", files.len());
    let mut total = Tally::default();
    for f in &files {
        let mut dec = Decoder::new();
        let mut t = Tally::default();
        for (src, payload) in udp_payloads(f) {
            let d = dec
                .decode(src, &payload)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            t.add(&d);
        }
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!("{name}: {t:?}");
        assert!(t.messages > 0, "{name}");
        if let Some((_, want)) = TSHARK_RECORDS.iter().find(|(n, _)| *n == name) {
            assert_eq!(t.data_records, *want, "{name}: data records vs tshark");
        }
        total.messages += t.messages;
        total.templates += t.templates;
        total.data_records += t.data_records;
        total.no_template_sets += t.no_template_sets;
    }
    eprintln!("all pcaps: {total:?}");
    assert_eq!(total.data_records, 267, "{total:?}");
    // ndpi-nfv9-no-template has data whose templates were never captured: skipped sets.
    assert!(total.no_template_sets >= 23, "{total:?}");
}

/// Decodes a `.dat` payload, which may hold several IPFIX messages back to back.
fn decode_dat(dec: &mut Decoder, bytes: &[u8]) -> Result<Vec<Decoded>, DecodeError> {
    let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 2055);
    let mut out = Vec::new();
    let mut rest = bytes;
    loop {
        let d = dec.decode(src, rest)?;
        let used = if d.header.version == 10 {
            usize::from(d.header.count_or_length)
        } else {
            rest.len()
        };
        out.push(d);
        rest = &rest[used..];
        if rest.len() < 16 {
            return Ok(out);
        }
    }
}

#[test]
fn decodes_every_real_exporter_dat_payload() {
    let Some(dir) = netflow_dir() else { return };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dat"))
        .collect();
    names.sort();
    assert!(names.len() >= 70, "{} .dat files", names.len());
    let is_tpl = |n: &str| n.contains("tpl");
    let mut total = Tally::default();
    let mut v5 = Vec::new();
    for name in &names {
        let prefix = vendor_prefix(name.trim_end_matches(".dat"));
        // Templates of the same exporter first (RFC order), then the file itself.
        let mut dec = Decoder::new();
        for tpl in names
            .iter()
            .filter(|n| *n != name && is_tpl(n) && n.starts_with(prefix))
        {
            decode_dat(&mut dec, &std::fs::read(dir.join(tpl)).unwrap())
                .unwrap_or_else(|e| panic!("{tpl}: {e}"));
        }
        let bytes = std::fs::read(dir.join(name)).unwrap();
        match decode_dat(&mut dec, &bytes) {
            Ok(ds) => {
                let mut t = Tally::default();
                ds.iter().for_each(|d| t.add(d));
                eprintln!("{name}: {t:?}");
                total.messages += t.messages;
                total.templates += t.templates;
                total.data_records += t.data_records;
                total.no_template_sets += t.no_template_sets;
            }
            // NetFlow v5 is not v9/IPFIX: the decoder names the version, nothing else.
            Err(DecodeError::UnsupportedVersion(5)) => v5.push(name.clone()),
            Err(e) => panic!("{name}: {e}"),
        }
    }
    eprintln!("all .dat: {total:?}; v5 files: {v5:?}");
    assert!(v5.iter().all(|n| n.starts_with("netflow5")), "{v5:?}");
    assert_eq!(v5.len(), 5);
    assert!(total.data_records > 300, "{total:?}");
}
