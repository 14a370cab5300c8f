//! Header sequence numbers of one export stream (decision A6 in docs/decisions.md; ../shared/NETSTREAM.md §2.4 and §3.3).
//!
//! nsflow never mixes template sets and data sets in one message: a message is either a
//! *template message* (template and options-template sets only) or a *data message* (data
//! and options-data sets only). The rules are then:
//!
//! | rule | template message carries | then the counter | data message carries | then |
//! |---|---|---|---|---|
//! | v9 (RFC 3954) | n | n + 1 | n | n + 1 |
//! | IPFIX `sequence-number fixed` (RFC 7011) | n | n | n | n + data records |
//! | IPFIX default (Huawei) | n | n + 1 | n | n + data records |
//!
//! starting at 0, modulo 2^32. "Data records" include options data records (they are Data
//! Records in RFC 7011). In the Huawei default every template message takes one number
//! of its own, so template, options-template, data and options-data messages are
//! "consecutively numbered" as the product documents; RFC 7011 collectors (nfdump)
//! then count one lost record per template message, which is why `fixed` exists.

use crate::config::Version;

/// Which numbering a stream follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceRule {
    /// NetFlow v9: +1 per export packet.
    V9PerPacket,
    /// IPFIX with `sequence-number fixed`: data records sent before this message.
    IpfixRfc7011,
    /// IPFIX default: as RFC 7011, but every template message also consumes one number.
    IpfixHuawei,
}

impl SequenceRule {
    /// The rule for a version and the `sequence-number fixed` setting (ignored for v9).
    pub fn for_config(version: Version, fixed: bool) -> Self {
        match (version, fixed) {
            (Version::V9, _) => Self::V9PerPacket,
            (Version::Ipfix, true) => Self::IpfixRfc7011,
            (Version::Ipfix, false) => Self::IpfixHuawei,
        }
    }
}

/// What a message holds, as far as sequence numbers care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Template and/or options-template sets only.
    Template,
    /// Data and/or options-data sets only.
    Data,
}

/// The sequence counter of one stream (one collector and observation domain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    rule: SequenceRule,
    next: u32,
}

impl Sequence {
    /// A counter starting at 0.
    pub fn new(rule: SequenceRule) -> Self {
        Self { rule, next: 0 }
    }

    /// The number the next message will carry (the counter's current value).
    pub fn current(&self) -> u32 {
        self.next
    }

    /// The number for a message of `kind` with `data_records` data records (options data
    /// included), advancing the counter as the rule says.
    pub fn stamp(&mut self, kind: MessageKind, data_records: u32) -> u32 {
        let s = self.next;
        let step = match (self.rule, kind) {
            (SequenceRule::V9PerPacket, _) => 1,
            (SequenceRule::IpfixRfc7011, MessageKind::Template) => 0,
            (SequenceRule::IpfixHuawei, MessageKind::Template) => 1,
            (_, MessageKind::Data) => data_records,
        };
        self.next = s.wrapping_add(step);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageKind::{Data, Template};

    fn run(rule: SequenceRule, msgs: &[(MessageKind, u32)]) -> Vec<u32> {
        let mut s = Sequence::new(rule);
        msgs.iter().map(|(k, n)| s.stamp(*k, *n)).collect()
    }

    const MSGS: [(MessageKind, u32); 6] = [
        (Template, 0),
        (Data, 2),
        (Data, 20),
        (Template, 0),
        (Data, 5),
        (Data, 1),
    ];

    #[test]
    fn v9_counts_packets() {
        assert_eq!(
            run(SequenceRule::V9PerPacket, &MSGS),
            vec![0, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn ipfix_fixed_counts_data_records_before_the_message() {
        assert_eq!(
            run(SequenceRule::IpfixRfc7011, &MSGS),
            vec![0, 0, 2, 22, 22, 27]
        );
    }

    #[test]
    fn ipfix_huawei_templates_consume_one_number() {
        assert_eq!(
            run(SequenceRule::IpfixHuawei, &MSGS),
            vec![0, 1, 3, 23, 24, 29]
        );
    }

    #[test]
    fn counter_wraps_modulo_2_32() {
        let mut s = Sequence {
            rule: SequenceRule::IpfixRfc7011,
            next: u32::MAX - 1,
        };
        assert_eq!(s.stamp(Data, 3), u32::MAX - 1);
        assert_eq!(s.current(), 1);
    }

    #[test]
    fn rule_from_config() {
        assert_eq!(
            SequenceRule::for_config(Version::V9, true),
            SequenceRule::V9PerPacket
        );
        assert_eq!(
            SequenceRule::for_config(Version::Ipfix, true),
            SequenceRule::IpfixRfc7011
        );
        assert_eq!(
            SequenceRule::for_config(Version::Ipfix, false),
            SequenceRule::IpfixHuawei
        );
    }
}
