//! Information Element identifiers and lengths used by nsflow's templates.
//!
//! IDs 1–127 mean the same in NetFlow v9 (RFC 3954 §8) and IPFIX (IANA registry); the IDs
//! above 127 are IANA IPFIX elements, which v9 collectors that follow the IANA registry
//! (Wireshark, nfdump) also read. ../shared/NETSTREAM.md Part B §3.1 lists where each one is used.

/// `octetDeltaCount` / v9 `IN_BYTES`: bytes of the aggregate (IPv6 header + payload).
pub const OCTET_DELTA_COUNT: u16 = 1;
/// `packetDeltaCount` / v9 `IN_PKTS`: packets of the aggregate.
pub const PACKET_DELTA_COUNT: u16 = 2;
/// `deltaFlowCount` / v9 `FLOWS`: original flows merged into the aggregate.
pub const DELTA_FLOW_COUNT: u16 = 3;
/// `protocolIdentifier` / v9 `PROTOCOL`.
pub const PROTOCOL_IDENTIFIER: u16 = 4;
/// `ipClassOfService` / v9 `SRC_TOS`: the IPv6 Traffic Class (A10).
pub const IP_CLASS_OF_SERVICE: u16 = 5;
/// `sourceTransportPort` / v9 `L4_SRC_PORT`.
pub const SOURCE_TRANSPORT_PORT: u16 = 7;
/// `ingressInterface` / v9 `INPUT_SNMP`.
pub const INGRESS_INTERFACE: u16 = 10;
/// `destinationTransportPort` / v9 `L4_DST_PORT` (ICMPv6: type × 256 + code).
pub const DESTINATION_TRANSPORT_PORT: u16 = 11;
/// `egressInterface` / v9 `OUTPUT_SNMP`.
pub const EGRESS_INTERFACE: u16 = 14;
/// `bgpSourceAsNumber` / v9 `SRC_AS`.
pub const BGP_SOURCE_AS_NUMBER: u16 = 16;
/// `bgpDestinationAsNumber` / v9 `DST_AS`.
pub const BGP_DESTINATION_AS_NUMBER: u16 = 17;
/// `flowEndSysUpTime` / v9 `LAST_SWITCHED`: ms relative to the v9 header's sysUpTime base.
pub const FLOW_END_SYS_UP_TIME: u16 = 21;
/// `flowStartSysUpTime` / v9 `FIRST_SWITCHED`.
pub const FLOW_START_SYS_UP_TIME: u16 = 22;
/// `sourceIPv6Address` / v9 `IPV6_SRC_ADDR`: the masked source prefix in v9 templates.
pub const SOURCE_IPV6_ADDRESS: u16 = 27;
/// `destinationIPv6Address` / v9 `IPV6_DST_ADDR`: the masked destination prefix in v9.
pub const DESTINATION_IPV6_ADDRESS: u16 = 28;
/// `sourceIPv6PrefixLength` / v9 `IPV6_SRC_MASK`.
pub const SOURCE_IPV6_PREFIX_LENGTH: u16 = 29;
/// `destinationIPv6PrefixLength` / v9 `IPV6_DST_MASK`.
pub const DESTINATION_IPV6_PREFIX_LENGTH: u16 = 30;
/// `flowActiveTimeout` / v9 `FLOW_ACTIVE_TIMEOUT` (seconds), options data.
pub const FLOW_ACTIVE_TIMEOUT: u16 = 36;
/// `flowIdleTimeout` / v9 `FLOW_INACTIVE_TIMEOUT` (seconds), options data.
pub const FLOW_IDLE_TIMEOUT: u16 = 37;
/// `mplsTopLabelIPv4Address` / v9 `MPLS_TOP_LABEL_IP_ADDR`.
pub const MPLS_TOP_LABEL_IPV4_ADDRESS: u16 = 47;
/// `vlanId` / v9 `SRC_VLAN`.
pub const VLAN_ID: u16 = 58;
/// `flowDirection` / v9 `DIRECTION`: 0 ingress, 1 egress.
pub const FLOW_DIRECTION: u16 = 61;
/// `bgpNextHopIPv6Address` / v9 `BGP_IPV6_NEXT_HOP`.
pub const BGP_NEXT_HOP_IPV6_ADDRESS: u16 = 63;
/// ipVersion (v9 IP_PROTOCOL_VERSION): the flow's IP version, 4 or 6. Sent in every data
/// template so that a collector knows the family of flows whose key has no address
/// (pmacct's nfacctd accounts nothing otherwise; docs/export.md, "Collectors").
pub const IP_VERSION: u16 = 60;
/// `mplsTopLabelStackSection` / v9 `MPLS_LABEL_1`: label(20) | EXP(3) | S(1).
pub const MPLS_TOP_LABEL_STACK_SECTION: u16 = 70;
/// `mplsLabelStackSection2` / v9 `MPLS_LABEL_2`.
pub const MPLS_LABEL_STACK_SECTION2: u16 = 71;
/// `mplsLabelStackSection3` / v9 `MPLS_LABEL_3`.
pub const MPLS_LABEL_STACK_SECTION3: u16 = 72;
/// `flowEndReason`: 1 idle, 2 active, 3 end of flow, 4 forced, 5 lack of resources.
pub const FLOW_END_REASON: u16 = 136;
/// `observationDomainId`: the scope of the IPFIX options records.
pub const OBSERVATION_DOMAIN_ID: u16 = 149;
/// `flowStartMilliseconds`: UNIX epoch ms, IPFIX templates.
pub const FLOW_START_MILLISECONDS: u16 = 152;
/// `flowEndMilliseconds`: UNIX epoch ms, IPFIX templates.
pub const FLOW_END_MILLISECONDS: u16 = 153;
/// `ignoredPacketTotalCount`: packets the metering process could not parse.
pub const IGNORED_PACKET_TOTAL_COUNT: u16 = 164;
/// `ignoredOctetTotalCount`: octets of those packets.
pub const IGNORED_OCTET_TOTAL_COUNT: u16 = 165;
/// `notSentFlowTotalCount`: flows dropped before export.
pub const NOT_SENT_FLOW_TOTAL_COUNT: u16 = 166;
/// `notSentPacketTotalCount`: packets of those flows.
pub const NOT_SENT_PACKET_TOTAL_COUNT: u16 = 167;
/// `notSentOctetTotalCount`: octets of those flows.
pub const NOT_SENT_OCTET_TOTAL_COUNT: u16 = 168;
/// `destinationIPv6Prefix`: IPFIX destination prefix (with 30).
pub const DESTINATION_IPV6_PREFIX: u16 = 169;
/// `sourceIPv6Prefix`: IPFIX source prefix (with 29).
pub const SOURCE_IPV6_PREFIX: u16 = 170;

/// NetFlow v9 options scope type "System" (RFC 3954 §6.1): the whole exporting device.
pub const V9_SCOPE_SYSTEM: u16 = 1;

/// A short name for an IE, for documentation and test failure messages.
pub fn name(id: u16) -> &'static str {
    match id {
        OCTET_DELTA_COUNT => "octetDeltaCount",
        PACKET_DELTA_COUNT => "packetDeltaCount",
        DELTA_FLOW_COUNT => "deltaFlowCount",
        PROTOCOL_IDENTIFIER => "protocolIdentifier",
        IP_CLASS_OF_SERVICE => "ipClassOfService",
        SOURCE_TRANSPORT_PORT => "sourceTransportPort",
        INGRESS_INTERFACE => "ingressInterface",
        DESTINATION_TRANSPORT_PORT => "destinationTransportPort",
        EGRESS_INTERFACE => "egressInterface",
        BGP_SOURCE_AS_NUMBER => "bgpSourceAsNumber",
        BGP_DESTINATION_AS_NUMBER => "bgpDestinationAsNumber",
        FLOW_END_SYS_UP_TIME => "flowEndSysUpTime (LAST_SWITCHED)",
        FLOW_START_SYS_UP_TIME => "flowStartSysUpTime (FIRST_SWITCHED)",
        SOURCE_IPV6_ADDRESS => "sourceIPv6Address",
        DESTINATION_IPV6_ADDRESS => "destinationIPv6Address",
        SOURCE_IPV6_PREFIX_LENGTH => "sourceIPv6PrefixLength",
        DESTINATION_IPV6_PREFIX_LENGTH => "destinationIPv6PrefixLength",
        FLOW_ACTIVE_TIMEOUT => "flowActiveTimeout",
        FLOW_IDLE_TIMEOUT => "flowIdleTimeout",
        MPLS_TOP_LABEL_IPV4_ADDRESS => "mplsTopLabelIPv4Address",
        VLAN_ID => "vlanId",
        FLOW_DIRECTION => "flowDirection",
        IP_VERSION => "ipVersion",
        BGP_NEXT_HOP_IPV6_ADDRESS => "bgpNextHopIPv6Address",
        MPLS_TOP_LABEL_STACK_SECTION => "mplsTopLabelStackSection",
        MPLS_LABEL_STACK_SECTION2 => "mplsLabelStackSection2",
        MPLS_LABEL_STACK_SECTION3 => "mplsLabelStackSection3",
        FLOW_END_REASON => "flowEndReason",
        OBSERVATION_DOMAIN_ID => "observationDomainId",
        FLOW_START_MILLISECONDS => "flowStartMilliseconds",
        FLOW_END_MILLISECONDS => "flowEndMilliseconds",
        IGNORED_PACKET_TOTAL_COUNT => "ignoredPacketTotalCount",
        IGNORED_OCTET_TOTAL_COUNT => "ignoredOctetTotalCount",
        NOT_SENT_FLOW_TOTAL_COUNT => "notSentFlowTotalCount",
        NOT_SENT_PACKET_TOTAL_COUNT => "notSentPacketTotalCount",
        NOT_SENT_OCTET_TOTAL_COUNT => "notSentOctetTotalCount",
        DESTINATION_IPV6_PREFIX => "destinationIPv6Prefix",
        SOURCE_IPV6_PREFIX => "sourceIPv6Prefix",
        _ => "unknown",
    }
}
