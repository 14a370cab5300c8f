//! What the exporter is given: aggregated flow records and the cumulative loss counters.

use nsflow_rtl::{AggregationMode, EndReason, FlowKey};

/// One aggregated flow, ready to be exported. The driver builds it from a device ring
/// record: the mode of the record's profile, the key as the device masked it, and the
/// device times converted to UNIX epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRecord {
    /// Aggregation mode: selects the template (ID 256 + mode index) and its fields.
    pub mode: AggregationMode,
    /// The key, already masked for `mode` (fields the mode does not use are ignored).
    pub key: FlowKey,
    /// Original flows merged into this aggregate (deltaFlowCount).
    pub flows: u64,
    /// Packets (packetDeltaCount).
    pub packets: u64,
    /// Bytes, IPv6 header plus payload (octetDeltaCount).
    pub bytes: u64,
    /// First packet, UNIX epoch milliseconds.
    pub start_ms: u64,
    /// Last packet, UNIX epoch milliseconds.
    pub end_ms: u64,
    /// Why the aggregate was exported (flowEndReason, IPFIX only).
    pub end_reason: EndReason,
}

/// Cumulative export-reliability counters (RFC 7011 §4.3 and §4.2), exported in the
/// options record of decision A15. All are totals since the exporter started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LossCounters {
    /// Flows dropped before they could be exported (notSentFlowTotalCount, 166).
    pub not_sent_flows: u64,
    /// Packets of those flows (notSentPacketTotalCount, 167).
    pub not_sent_packets: u64,
    /// Octets of those flows (notSentOctetTotalCount, 168).
    pub not_sent_octets: u64,
    /// Packets the parser could not use (ignoredPacketTotalCount, 164).
    pub ignored_packets: u64,
    /// Octets of those packets (ignoredOctetTotalCount, 165).
    pub ignored_octets: u64,
}
