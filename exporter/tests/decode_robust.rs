//! The decoder on hand-built messages (variable-length and enterprise fields, options
//! templates, withdrawals, padding, missing templates) and on arbitrary bytes: typed
//! errors, never a panic.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nsflow_exporter::decode::{DecodeError, Set, SkipReason, VARIABLE_LENGTH};
use nsflow_exporter::{Decoder, ExportStream, Version};
use nsflow_rtl::AggregationMode as M;
use proptest::prelude::*;

fn ipfix(sets: &[u8]) -> Vec<u8> {
    let len = (16 + sets.len()) as u16;
    let mut b = vec![0, 10];
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 9]);
    b.extend_from_slice(sets);
    b
}

#[test]
fn ipfix_variable_length_and_enterprise_fields() {
    #[rustfmt::skip]
    let tpl = [
        0, 2, 0, 24,            // template set, 24 octets
        1, 0, 0, 3,             // template 256, 3 fields
        0, 8, 0, 4,             // sourceIPv4Address, 4
        0x80, 82, 0xff, 0xff,   // enterprise bit + IE 82, variable length
        0, 0, 0x73, 0x5c,       // enterprise number 29532
        0, 4, 0, 1,             // protocolIdentifier, 1
    ];
    #[rustfmt::skip]
    let data = [
        1, 0, 0, 24,            // data set 256, 24 octets
        10, 0, 0, 1, 3, b'a', b'b', b'c', 6,                  // short form, 3 octets
        10, 0, 0, 2, 255, 0, 2, b'x', b'y', 17,               // long form, 2 octets
        0,                                                    // padding
    ];
    let mut d = Decoder::new();
    let a = d.decode(exporter_addr(), &ipfix(&tpl)).unwrap();
    let Set::Templates(t) = &a.sets[0] else {
        panic!()
    };
    assert_eq!(t[0].fields[1].enterprise, Some(29532));
    assert_eq!(t[0].fields[1].len, VARIABLE_LENGTH);
    let b = d.decode(exporter_addr(), &ipfix(&data)).unwrap();
    assert_eq!(
        (b.header.sequence, b.header.domain, b.header.export_secs),
        (5, 9, 1)
    );
    let Set::Data { records, .. } = &b.sets[0] else {
        panic!()
    };
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].fields[1].value, b"abc");
    assert_eq!(records[1].fields[1].value, b"xy");
    assert_eq!(records[1].uint(4), Some(17));
    assert_eq!(
        records[1].get(82),
        None,
        "enterprise fields are not IANA 82"
    );
}

#[test]
fn ipfix_withdrawal_forgets_and_missing_template_is_skipped() {
    let tpl = [0, 2, 0, 12, 1, 1, 0, 1, 0, 4, 0, 1];
    let withdraw = [0, 2, 0, 8, 1, 1, 0, 0];
    let data = [1, 1, 0, 6, 6, 17];
    let mut d = Decoder::new();
    d.decode(exporter_addr(), &ipfix(&tpl)).unwrap();
    assert_eq!(
        d.decode(exporter_addr(), &ipfix(&data))
            .unwrap()
            .data_records(),
        2
    );
    d.decode(exporter_addr(), &ipfix(&withdraw)).unwrap();
    let x = d.decode(exporter_addr(), &ipfix(&data)).unwrap();
    assert_eq!(
        x.sets,
        vec![Set::Skipped {
            set_id: 257,
            length: 6,
            reason: SkipReason::NoTemplate
        }]
    );
}

#[test]
fn templates_are_scoped_by_exporter_address() {
    let tpl = [0, 2, 0, 12, 1, 1, 0, 1, 0, 4, 0, 1];
    let data = [1, 1, 0, 5, 6];
    let mut d = Decoder::new();
    d.decode(exporter_addr(), &ipfix(&tpl)).unwrap();
    let other = "127.0.0.2:40000".parse().unwrap();
    let x = d.decode(other, &ipfix(&data)).unwrap();
    assert!(matches!(x.sets[0], Set::Skipped { .. }));
}

#[test]
fn v9_options_template_and_data_with_padding() {
    #[rustfmt::skip]
    let msg = [
        0, 9, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, // header
        0, 1, 0, 24,            // options template FlowSet: 4 + 6 + 4 + 8 + 2
        1, 0, 0, 4, 0, 8,       // template 256, scope 4 octets, options 8 octets
        0, 1, 0, 4,             // scope System, 4
        0, 34, 0, 4, 0, 35, 0, 1,
        0, 0,                   // padding
        1, 0, 0, 16,            // data FlowSet 256
        0, 0, 0, 7, 0, 0, 0, 100, 2,
        0, 0, 0,                // padding
    ];
    let mut d = Decoder::new();
    let x = d.decode(exporter_addr(), &msg).unwrap();
    assert_eq!(x.header.sys_uptime_ms, Some(1));
    let Set::OptionsTemplates(t) = &x.sets[0] else {
        panic!()
    };
    assert!(t[0].fields[0].scope && !t[0].fields[1].scope);
    let Set::Data {
        options, records, ..
    } = &x.sets[1]
    else {
        panic!()
    };
    assert!(*options);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].scope(1), Some(&[0, 0, 0, 7][..]));
    assert_eq!(records[0].uint(34), Some(100));
    assert_eq!(records[0].uint(35), Some(2));
}

#[test]
fn typed_errors_for_broken_messages() {
    let mut d = Decoder::new();
    let a = exporter_addr();
    assert!(matches!(
        d.decode(a, &[0, 9, 0]),
        Err(DecodeError::Truncated { .. })
    ));
    assert_eq!(
        d.decode(a, &[0, 5, 0, 0]),
        Err(DecodeError::UnsupportedVersion(5))
    );
    let mut m = ipfix(&[]);
    m[3] = 200;
    assert!(matches!(
        d.decode(a, &m),
        Err(DecodeError::MessageLength { .. })
    ));
    assert!(matches!(
        d.decode(a, &ipfix(&[1, 0, 0, 2, 0, 0])),
        Err(DecodeError::SetLength { .. })
    ));
    assert!(matches!(
        d.decode(a, &ipfix(&[0, 2, 0, 8, 0, 9, 0, 1])),
        Err(DecodeError::Template { .. })
    ));
    // A template record whose fields run past the set.
    assert!(matches!(
        d.decode(a, &ipfix(&[0, 2, 0, 12, 1, 0, 0, 2, 0, 4, 0, 1])),
        Err(DecodeError::Truncated { .. })
    ));
}

/// Messages nsflow itself produces, for mutation.
fn own_messages() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for version in [Version::V9, Version::Ipfix] {
        let mut cfg = localhost_config(version, 9);
        cfg.modes = M::ALL.to_vec();
        let mut s = ExportStream::new(&cfg, T0);
        let mut g = Gen(11);
        for i in 0..60 {
            s.push(&record(&mut g, M::ALL[i % 14], true), T0);
        }
        s.flush(T0);
        v.extend(s.take_messages().into_iter().map(|m| m.bytes));
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Decoder::new().decode(exporter_addr(), &b);
    }

    #[test]
    fn arbitrary_v9_and_ipfix_bodies_never_panic(v9 in any::<bool>(), b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut m = if v9 { vec![0, 9] } else { vec![0, 10, 0, 0] };
        m.extend_from_slice(&b);
        if !v9 && m.len() >= 4 {
            let l = (m.len() as u16).to_be_bytes();
            m[2] = l[0];
            m[3] = l[1];
        }
        let _ = Decoder::new().decode(exporter_addr(), &m);
    }

    #[test]
    fn mutated_real_messages_never_panic(idx in any::<prop::sample::Index>(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
        let msgs = own_messages();
        let mut d = Decoder::new();
        // Learn the templates first, then decode a mutated message.
        for m in &msgs {
            let _ = d.decode(exporter_addr(), m);
        }
        let mut m = msgs[idx.index(msgs.len())].clone();
        for (i, x) in flips {
            let i = i.index(m.len());
            m[i] ^= x;
        }
        m.truncate(cut.index(m.len() + 1));
        let _ = d.decode(exporter_addr(), &m);
    }
}
