//! The options templates and options data records of decision A15.
//!
//! * Template 270, export reliability (RFC 7011 §4.3 plus the §4.2 ignored counters):
//!   scope observationDomainId(149, 4) in IPFIX, System (scope type 1, 4 octets holding the
//!   Source ID) in v9; then notSentFlowTotalCount(166), notSentPacketTotalCount(167),
//!   notSentOctetTotalCount(168), ignoredPacketTotalCount(164), ignoredOctetTotalCount(165),
//!   8 octets each.
//! * Template 271, timeouts: the same scope, then flowActiveTimeout(36) and
//!   flowIdleTimeout(37), 2 octets each, in seconds.
//!
//! The IDs follow the data templates (256 + mode index: 256–269 for the 14 modes) and
//! never change (A7). A mode added to the table must not take them: the build fails (the
//! check below) rather than reuse 270 for data, and moving the options IDs would change
//! what collectors see, so that is a decision to make and document in `docs/export.md`.

use crate::config::Version;
use crate::ie;
use crate::record::LossCounters;
use nsflow_rtl::AggregationMode;

/// Template ID of the export-reliability options template.
pub const RELIABILITY_TEMPLATE_ID: u16 = 270;
/// Template ID of the timeouts options template.
pub const TIMEOUTS_TEMPLATE_ID: u16 = 271;

// Every data template ID (256 + mode index, A7) is below both options template IDs.
const _: () = {
    let last_data_id = AggregationMode::ALL[AggregationMode::ALL.len() - 1].template_id();
    let options_ids = [RELIABILITY_TEMPLATE_ID, TIMEOUTS_TEMPLATE_ID];
    let mut i = 0;
    while i < options_ids.len() {
        assert!(
            last_data_id < options_ids[i],
            "a mode's data template ID reaches an options template ID (see options.rs)"
        );
        i += 1;
    }
};

/// Octets of one reliability options data record.
pub const RELIABILITY_RECORD_LEN: usize = 4 + 5 * 8;
/// Octets of one timeouts options data record.
pub const TIMEOUTS_RECORD_LEN: usize = 4 + 2 + 2;

const RELIABILITY_FIELDS: [(u16, u16); 5] = [
    (ie::NOT_SENT_FLOW_TOTAL_COUNT, 8),
    (ie::NOT_SENT_PACKET_TOTAL_COUNT, 8),
    (ie::NOT_SENT_OCTET_TOTAL_COUNT, 8),
    (ie::IGNORED_PACKET_TOTAL_COUNT, 8),
    (ie::IGNORED_OCTET_TOTAL_COUNT, 8),
];
const TIMEOUT_FIELDS: [(u16, u16); 2] = [(ie::FLOW_ACTIVE_TIMEOUT, 2), (ie::FLOW_IDLE_TIMEOUT, 2)];

fn template_record(version: Version, id: u16, fields: &[(u16, u16)]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + 4 * fields.len());
    b.extend_from_slice(&id.to_be_bytes());
    let n = u16::try_from(fields.len()).unwrap_or(u16::MAX);
    match version {
        Version::V9 => {
            // Option scope length and option length, in octets of (type, length) pairs.
            b.extend_from_slice(&4u16.to_be_bytes());
            b.extend_from_slice(&(4 * n).to_be_bytes());
            b.extend_from_slice(&ie::V9_SCOPE_SYSTEM.to_be_bytes());
        }
        Version::Ipfix => {
            // Field count (scope included) and scope field count.
            b.extend_from_slice(&(n + 1).to_be_bytes());
            b.extend_from_slice(&1u16.to_be_bytes());
            b.extend_from_slice(&ie::OBSERVATION_DOMAIN_ID.to_be_bytes());
        }
    }
    b.extend_from_slice(&4u16.to_be_bytes());
    for (id, len) in fields {
        b.extend_from_slice(&id.to_be_bytes());
        b.extend_from_slice(&len.to_be_bytes());
    }
    b
}

/// The options template records (reliability, then timeouts) of `version`, each without
/// its set header.
pub fn options_templates(version: Version) -> [Vec<u8>; 2] {
    [
        template_record(version, RELIABILITY_TEMPLATE_ID, &RELIABILITY_FIELDS),
        template_record(version, TIMEOUTS_TEMPLATE_ID, &TIMEOUT_FIELDS),
    ]
}

/// The reliability options data record: scope value (the domain), then the five counters.
pub fn reliability_record(domain: u32, c: &LossCounters) -> [u8; RELIABILITY_RECORD_LEN] {
    let mut b = [0u8; RELIABILITY_RECORD_LEN];
    b[0..4].copy_from_slice(&domain.to_be_bytes());
    let vals = [
        c.not_sent_flows,
        c.not_sent_packets,
        c.not_sent_octets,
        c.ignored_packets,
        c.ignored_octets,
    ];
    for (i, v) in vals.iter().enumerate() {
        b[4 + 8 * i..12 + 8 * i].copy_from_slice(&v.to_be_bytes());
    }
    b
}

/// The timeouts options data record: scope value, active and inactive timeouts (s).
pub fn timeouts_record(domain: u32, active_s: u16, inactive_s: u16) -> [u8; TIMEOUTS_RECORD_LEN] {
    let mut b = [0u8; TIMEOUTS_RECORD_LEN];
    b[0..4].copy_from_slice(&domain.to_be_bytes());
    b[4..6].copy_from_slice(&active_s.to_be_bytes());
    b[6..8].copy_from_slice(&inactive_s.to_be_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v9_options_template_records() {
        let [rel, tmo] = options_templates(Version::V9);
        #[rustfmt::skip]
        let want_rel = [
            0x01, 0x0e,   // template 270
            0, 4,         // scope length: one (type, length) pair
            0, 20,        // option length: five pairs
            0, 1, 0, 4,   // scope System, 4 octets
            0, 166, 0, 8, 0, 167, 0, 8, 0, 168, 0, 8, 0, 164, 0, 8, 0, 165, 0, 8,
        ];
        assert_eq!(rel, want_rel);
        #[rustfmt::skip]
        let want_tmo = [0x01, 0x0f, 0, 4, 0, 8, 0, 1, 0, 4, 0, 36, 0, 2, 0, 37, 0, 2];
        assert_eq!(tmo, want_tmo);
    }

    #[test]
    fn ipfix_options_template_records() {
        let [rel, tmo] = options_templates(Version::Ipfix);
        #[rustfmt::skip]
        let want_rel = [
            0x01, 0x0e,   // template 270
            0, 6,         // 6 fields
            0, 1,         // 1 scope field
            0, 149, 0, 4, // observationDomainId
            0, 166, 0, 8, 0, 167, 0, 8, 0, 168, 0, 8, 0, 164, 0, 8, 0, 165, 0, 8,
        ];
        assert_eq!(rel, want_rel);
        #[rustfmt::skip]
        let want_tmo = [0x01, 0x0f, 0, 3, 0, 1, 0, 149, 0, 4, 0, 36, 0, 2, 0, 37, 0, 2];
        assert_eq!(tmo, want_tmo);
    }

    #[test]
    fn options_data_records() {
        let c = LossCounters {
            not_sent_flows: 1,
            not_sent_packets: 2,
            not_sent_octets: 0x0102_0304_0506_0708,
            ignored_packets: 4,
            ignored_octets: 5,
        };
        let r = reliability_record(7, &c);
        #[rustfmt::skip]
        let want = [
            0, 0, 0, 7,
            0, 0, 0, 0, 0, 0, 0, 1,
            0, 0, 0, 0, 0, 0, 0, 2,
            1, 2, 3, 4, 5, 6, 7, 8,
            0, 0, 0, 0, 0, 0, 0, 4,
            0, 0, 0, 0, 0, 0, 0, 5,
        ];
        assert_eq!(r, want);
        assert_eq!(
            timeouts_record(7, 1800, 300),
            [0, 0, 0, 7, 0x07, 0x08, 0x01, 0x2c]
        );
    }
}
