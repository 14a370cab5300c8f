//! The IPv6 aggregation modes of `ipv6 netstream aggregation MODE` and the key fields each
//! one selects (NETSTREAM.md Part B §1.1 with the Part A decisions A3, A11–A13, N6).
//!
//! The one table below is the only place the modes are listed: the enum, [`ALL`], the
//! VRP keyword and help text, the device's field selection and the exporter's template key
//! fields (in template order) and the template ID (256 + index, A7) all derive from it. A
//! new mode is one new row (and its documentation in `docs/`).
//!
//! [`ALL`]: AggregationMode::ALL

use crate::key::{FieldSelect, KeyField};
use std::fmt;
use std::str::FromStr;

/// `concat!` of string literals with `", "` between them.
macro_rules! comma_separated {
    ($first:literal $(, $rest:literal)*) => {
        concat!($first $(, ", ", $rest)*)
    };
}

/// Whether a row's masking word asks for prefix masking: `prefix` (addresses are masked to
/// their prefix length, A13, and `mask ... minimum` applies, N4) or `exact`.
macro_rules! masks_prefix {
    (prefix) => {
        true
    };
    (exact) => {
        false
    };
}

/// Declares [`AggregationMode`] from the mode table. One row per mode:
///
/// ```text
/// /// doc comment
/// Variant = index, "vrp-keyword", prefix|exact [key fields in template order], "VRP help";
/// ```
///
/// Rows are in index order and indices are dense from 0 (checked at compile time below).
/// The key fields are [`KeyField`]s without [`KeyField::Direction`], which every mode keys
/// on implicitly (N6) and which the exporter places after them.
macro_rules! modes {
    ($(
        $(#[doc = $doc:literal])+
        $variant:ident = $index:literal, $keyword:literal, $masking:ident [$($field:ident),+],
            $help:literal;
    )+) => {
        /// One IPv6 NetStream aggregation mode. The discriminant is the mode index used by
        /// the device's profile registers and by the fixed template ID (256 + index,
        /// decision A7).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum AggregationMode {
            $($(#[doc = $doc])+ $variant = $index,)+
        }

        impl AggregationMode {
            /// Every mode, in index order.
            pub const ALL: [AggregationMode; [$(Self::$variant),+].len()] =
                [$(Self::$variant),+];

            /// The VRP keyword, as typed after `ipv6 netstream aggregation`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $keyword,)+
                }
            }

            /// The one-line description VRP's `?` shows next to the mode keyword.
            pub const fn help(self) -> &'static str {
                match self {
                    $(Self::$variant => $help,)+
                }
            }

            /// The mode's key fields in the order its data template carries them (NETSTREAM.md
            /// Part B §3.2), without the implicit [`KeyField::Direction`] (N6).
            pub const fn key_fields(self) -> &'static [KeyField] {
                match self {
                    $(Self::$variant => &[$(KeyField::$field),+],)+
                }
            }

            /// Whether the mode keys on prefixes, so that addresses are masked to their
            /// prefix length (A13) and `mask ... minimum` applies (N4).
            pub const fn is_prefix_mode(self) -> bool {
                match self {
                    $(Self::$variant => masks_prefix!($masking),)+
                }
            }
        }

        /// The error for a word that names no aggregation mode.
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error(
            "unknown aggregation mode `{0}` (expected one of: {keywords})",
            keywords = comma_separated!($($keyword),+)
        )]
        pub struct UnknownMode(pub String);
    };
}

modes! {
    /// Source AS, destination AS, inbound and outbound ifIndex.
    As = 0, "as", exact [SrcAs, DstAs, InIf, OutIf],
        "Source/destination AS and in/out ifIndex";
    /// `as` plus ToS.
    AsTos = 1, "as-tos", exact [SrcAs, DstAs, InIf, OutIf, Tos],
        "`as` plus ToS";
    /// BGP next hop, source AS, destination AS, in/out ifIndex and ToS (decision A3).
    BgpNexthopTos = 2, "bgp-nexthop-tos", exact [NextHop, SrcAs, DstAs, InIf, OutIf, Tos],
        "BGP next hop, ASes, in/out ifIndex and ToS";
    /// Destination prefix and mask length, destination AS, outbound ifIndex.
    DestinationPrefix = 3, "destination-prefix", prefix [DstAddr, DstPlen, DstAs, OutIf],
        "Destination prefix, AS and outbound ifIndex";
    /// `destination-prefix` plus ToS.
    DestinationPrefixTos = 4, "destination-prefix-tos",
        prefix [DstAddr, DstPlen, DstAs, OutIf, Tos],
        "`destination-prefix` plus ToS";
    /// Inbound and outbound ifIndex and ToS.
    IndexTos = 5, "index-tos", exact [InIf, OutIf, Tos],
        "In/out ifIndex and ToS";
    /// Top three MPLS labels (EXP and S of the first), top-label IP address (decision A12).
    MplsLabel = 6, "mpls-label", exact [Mpls1, Mpls2, Mpls3, TopLabelAddr],
        "Top three MPLS labels and top-label address";
    /// Source and destination prefixes, mask lengths and ASes, in/out ifIndex.
    Prefix = 7, "prefix",
        prefix [SrcAddr, DstAddr, SrcPlen, DstPlen, SrcAs, DstAs, InIf, OutIf],
        "Source/destination prefixes, ASes and ifIndexes";
    /// `prefix` plus ToS.
    PrefixTos = 8, "prefix-tos",
        prefix [SrcAddr, DstAddr, SrcPlen, DstPlen, SrcAs, DstAs, InIf, OutIf, Tos],
        "`prefix` plus ToS";
    /// Protocol, source port, destination port.
    ProtocolPort = 9, "protocol-port", exact [Protocol, SrcPort, DstPort],
        "Protocol and ports";
    /// Protocol, ports, ToS, in/out ifIndex.
    ProtocolPortTos = 10, "protocol-port-tos",
        exact [Protocol, SrcPort, DstPort, Tos, InIf, OutIf],
        "Protocol, ports, ToS and in/out ifIndex";
    /// Source prefix and mask length, source AS, inbound ifIndex.
    SourcePrefix = 11, "source-prefix", prefix [SrcAddr, SrcPlen, SrcAs, InIf],
        "Source prefix, AS and inbound ifIndex";
    /// `source-prefix` plus ToS.
    SourcePrefixTos = 12, "source-prefix-tos", prefix [SrcAddr, SrcPlen, SrcAs, InIf, Tos],
        "`source-prefix` plus ToS";
    /// Outer VLAN ID and inbound ifIndex (decision A11).
    VlanId = 13, "vlan-id", exact [Vlan, InIf],
        "Outer VLAN ID and inbound ifIndex";
}

// The table's rows are in index order and the indices are dense from 0, so that
// `ALL[index]` is the mode with that index (`from_index`, the profile registers, A7).
const _: () = {
    let mut i = 0;
    while i < AggregationMode::ALL.len() {
        assert!(
            AggregationMode::ALL[i] as usize == i,
            "mode table: rows must be in index order, indices dense from 0"
        );
        i += 1;
    }
};

impl AggregationMode {
    /// The mode index programmed into a profile's `mode` field.
    pub const fn index(self) -> u8 {
        self as u8
    }

    /// The mode with this index, if any.
    pub fn from_index(index: u8) -> Option<Self> {
        Self::ALL.get(usize::from(index)).copied()
    }

    /// The fixed NetFlow v9 / IPFIX template ID of this mode's data records (A7).
    pub const fn template_id(self) -> u16 {
        256 + self as u16
    }

    /// The field-select mask a profile in this mode is programmed with: the mode's key
    /// fields, the sampling direction (an implicit key of every mode, N6) and, in prefix
    /// modes, prefix masking (A13).
    pub const fn field_select(self) -> FieldSelect {
        let fields = self.key_fields();
        let mut select = FieldSelect::DIRECTION;
        if self.is_prefix_mode() {
            select = select.union(FieldSelect::PREFIX_MASK);
        }
        let mut i = 0;
        while i < fields.len() {
            select = select.union(fields[i].select());
            i += 1;
        }
        select
    }
}

impl fmt::Display for AggregationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
        let past_end = u8::try_from(AggregationMode::ALL.len()).unwrap();
        assert!(AggregationMode::from_index(past_end).is_none());
        assert!("as-to".parse::<AggregationMode>().is_err());
    }

    #[test]
    fn unknown_mode_lists_every_keyword_in_index_order() {
        let names: Vec<&str> = AggregationMode::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(
            UnknownMode("as-to".into()).to_string(),
            format!(
                "unknown aggregation mode `as-to` (expected one of: {})",
                names.join(", ")
            )
        );
    }

    /// Each row's key fields are distinct and leave out the implicit direction; the prefix
    /// modes are exactly the modes that key on an address (A13).
    #[test]
    fn table_rows_are_consistent() {
        for m in AggregationMode::ALL {
            let fields = m.key_fields();
            for (i, f) in fields.iter().enumerate() {
                assert!(!fields[..i].contains(f), "{m}: {f:?} twice");
            }
            assert!(!fields.contains(&KeyField::Direction), "{m}");
            let keys_address =
                fields.contains(&KeyField::SrcAddr) || fields.contains(&KeyField::DstAddr);
            assert_eq!(m.is_prefix_mode(), keys_address, "{m}");
            assert_eq!(
                m.field_select().contains(FieldSelect::PREFIX_MASK),
                m.is_prefix_mode(),
                "{m}"
            );
        }
    }
}
