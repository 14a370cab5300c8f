//! The 14 IPv6 aggregation modes of `ipv6 netstream aggregation MODE` and the key fields
//! each one selects (NETSTREAM.md Part B §1.1 with the Part A decisions A3, A11–A13, N6).

use crate::key::FieldSelect;
use std::fmt;
use std::str::FromStr;

/// One IPv6 NetStream aggregation mode. The discriminant is the mode index used by the
/// device's profile registers and by the fixed template ID (256 + index, decision A7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum AggregationMode {
    /// Source AS, destination AS, inbound and outbound ifIndex.
    As = 0,
    /// `as` plus ToS.
    AsTos = 1,
    /// BGP next hop, source AS, destination AS, in/out ifIndex and ToS (decision A3).
    BgpNexthopTos = 2,
    /// Destination prefix and mask length, destination AS, outbound ifIndex.
    DestinationPrefix = 3,
    /// `destination-prefix` plus ToS.
    DestinationPrefixTos = 4,
    /// Inbound and outbound ifIndex and ToS.
    IndexTos = 5,
    /// Top three MPLS labels (EXP and S of the first), top-label IP address (decision A12).
    MplsLabel = 6,
    /// Source and destination prefixes, mask lengths and ASes, in/out ifIndex.
    Prefix = 7,
    /// `prefix` plus ToS.
    PrefixTos = 8,
    /// Protocol, source port, destination port.
    ProtocolPort = 9,
    /// Protocol, ports, ToS, in/out ifIndex.
    ProtocolPortTos = 10,
    /// Source prefix and mask length, source AS, inbound ifIndex.
    SourcePrefix = 11,
    /// `source-prefix` plus ToS.
    SourcePrefixTos = 12,
    /// Outer VLAN ID and inbound ifIndex (decision A11).
    VlanId = 13,
}

impl AggregationMode {
    /// Every mode, in index order.
    pub const ALL: [AggregationMode; 14] = [
        Self::As,
        Self::AsTos,
        Self::BgpNexthopTos,
        Self::DestinationPrefix,
        Self::DestinationPrefixTos,
        Self::IndexTos,
        Self::MplsLabel,
        Self::Prefix,
        Self::PrefixTos,
        Self::ProtocolPort,
        Self::ProtocolPortTos,
        Self::SourcePrefix,
        Self::SourcePrefixTos,
        Self::VlanId,
    ];

    /// The mode index programmed into a profile's `mode` field.
    pub const fn index(self) -> u8 {
        self as u8
    }

    /// The mode with this index, if any.
    pub fn from_index(index: u8) -> Option<Self> {
        Self::ALL.get(usize::from(index)).copied()
    }

    /// The VRP keyword, as typed after `ipv6 netstream aggregation`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::As => "as",
            Self::AsTos => "as-tos",
            Self::BgpNexthopTos => "bgp-nexthop-tos",
            Self::DestinationPrefix => "destination-prefix",
            Self::DestinationPrefixTos => "destination-prefix-tos",
            Self::IndexTos => "index-tos",
            Self::MplsLabel => "mpls-label",
            Self::Prefix => "prefix",
            Self::PrefixTos => "prefix-tos",
            Self::ProtocolPort => "protocol-port",
            Self::ProtocolPortTos => "protocol-port-tos",
            Self::SourcePrefix => "source-prefix",
            Self::SourcePrefixTos => "source-prefix-tos",
            Self::VlanId => "vlan-id",
        }
    }

    /// The fixed NetFlow v9 / IPFIX template ID of this mode's data records (A7).
    pub const fn template_id(self) -> u16 {
        256 + self as u16
    }

    /// Whether the mode keys on prefixes, so that `mask ... minimum` applies (N4).
    pub const fn is_prefix_mode(self) -> bool {
        matches!(
            self,
            Self::DestinationPrefix
                | Self::DestinationPrefixTos
                | Self::Prefix
                | Self::PrefixTos
                | Self::SourcePrefix
                | Self::SourcePrefixTos
        )
    }

    /// The field-select mask a profile in this mode is programmed with.
    pub const fn field_select(self) -> FieldSelect {
        use FieldSelect as F;
        let key = match self {
            Self::As => F::SRC_AS.0 | F::DST_AS.0 | F::IN_IF.0 | F::OUT_IF.0,
            Self::AsTos => F::SRC_AS.0 | F::DST_AS.0 | F::IN_IF.0 | F::OUT_IF.0 | F::TOS.0,
            Self::BgpNexthopTos => {
                F::NEXT_HOP.0 | F::SRC_AS.0 | F::DST_AS.0 | F::IN_IF.0 | F::OUT_IF.0 | F::TOS.0
            }
            Self::DestinationPrefix => {
                F::DST_ADDR.0 | F::DST_PLEN.0 | F::DST_AS.0 | F::OUT_IF.0 | F::PREFIX_MASK.0
            }
            Self::DestinationPrefixTos => {
                F::DST_ADDR.0
                    | F::DST_PLEN.0
                    | F::DST_AS.0
                    | F::OUT_IF.0
                    | F::TOS.0
                    | F::PREFIX_MASK.0
            }
            Self::IndexTos => F::IN_IF.0 | F::OUT_IF.0 | F::TOS.0,
            Self::MplsLabel => F::MPLS1.0 | F::MPLS2.0 | F::MPLS3.0 | F::TOP_LABEL_ADDR.0,
            Self::Prefix => {
                F::SRC_ADDR.0
                    | F::DST_ADDR.0
                    | F::SRC_PLEN.0
                    | F::DST_PLEN.0
                    | F::SRC_AS.0
                    | F::DST_AS.0
                    | F::IN_IF.0
                    | F::OUT_IF.0
                    | F::PREFIX_MASK.0
            }
            Self::PrefixTos => {
                F::SRC_ADDR.0
                    | F::DST_ADDR.0
                    | F::SRC_PLEN.0
                    | F::DST_PLEN.0
                    | F::SRC_AS.0
                    | F::DST_AS.0
                    | F::IN_IF.0
                    | F::OUT_IF.0
                    | F::TOS.0
                    | F::PREFIX_MASK.0
            }
            Self::ProtocolPort => F::PROTOCOL.0 | F::SRC_PORT.0 | F::DST_PORT.0,
            Self::ProtocolPortTos => {
                F::PROTOCOL.0 | F::SRC_PORT.0 | F::DST_PORT.0 | F::TOS.0 | F::IN_IF.0 | F::OUT_IF.0
            }
            Self::SourcePrefix => {
                F::SRC_ADDR.0 | F::SRC_PLEN.0 | F::SRC_AS.0 | F::IN_IF.0 | F::PREFIX_MASK.0
            }
            Self::SourcePrefixTos => {
                F::SRC_ADDR.0
                    | F::SRC_PLEN.0
                    | F::SRC_AS.0
                    | F::IN_IF.0
                    | F::TOS.0
                    | F::PREFIX_MASK.0
            }
            Self::VlanId => F::VLAN.0 | F::IN_IF.0,
        };
        // Sampling direction is an implicit key of every mode (N6).
        FieldSelect(key | F::DIRECTION.0)
    }
}

impl fmt::Display for AggregationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a word that names no aggregation mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown aggregation mode `{0}` (expected one of: as, as-tos, bgp-nexthop-tos, destination-prefix, destination-prefix-tos, index-tos, mpls-label, prefix, prefix-tos, protocol-port, protocol-port-tos, source-prefix, source-prefix-tos, vlan-id)")]
pub struct UnknownMode(pub String);

impl FromStr for AggregationMode {
    type Err = UnknownMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownMode(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_indices_are_dense() {
        for (i, m) in AggregationMode::ALL.iter().enumerate() {
            assert_eq!(usize::from(m.index()), i);
            assert_eq!(AggregationMode::from_index(m.index()), Some(*m));
            assert_eq!(m.name().parse::<AggregationMode>(), Ok(*m));
            assert_eq!(m.template_id(), 256 + i as u16);
        }
        assert!(AggregationMode::from_index(14).is_none());
        assert!("as-to".parse::<AggregationMode>().is_err());
    }

    #[test]
    fn prefix_masking_only_in_prefix_modes() {
        for m in AggregationMode::ALL {
            assert_eq!(
                m.field_select().contains(FieldSelect::PREFIX_MASK),
                m.is_prefix_mode(),
                "{m}"
            );
        }
    }
}
