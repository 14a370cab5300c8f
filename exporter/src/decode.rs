//! A NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) decoder: headers, template and options
//! template sets (cached per exporter, version, domain and template ID), data and options
//! data sets, variable-length fields, enterprise-specific and unknown elements (kept as
//! raw bytes), padding. Used by the tests and by `nsflow collect`.
//!
//! It never panics: every malformed input is a [`DecodeError`]. A data set whose template
//! is not known (yet) is not an error: it comes back as [`Set::NoTemplate`], as RFC 7011
//! §8 tells a collector to handle it.
//!
//! Messages come from the network, so the module denies `clippy::indexing_slicing`: every
//! read goes through the bound-checked `Reader`, which hands out fixed-size arrays for
//! the header fields and `get` slices for field values.
#![deny(clippy::indexing_slicing)]

use crate::ie;
use crate::record::LossCounters;
use nsflow_rtl::{AggregationMode, EndReason, FlowKey};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Templates kept at most; a flood of distinct templates beyond this is refused.
pub const MAX_TEMPLATES: usize = 65_536;
/// The length value that marks an IPFIX variable-length field.
pub const VARIABLE_LENGTH: u16 = 65_535;

/// Why bytes are not a valid v9 / IPFIX message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than a header or a structure needs.
    #[error("truncated {what}: need {need} bytes at offset {offset}, have {have}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Offset in the message.
        offset: usize,
        /// Bytes needed.
        need: usize,
        /// Bytes left.
        have: usize,
    },
    /// A version other than 9 or 10.
    #[error("unsupported NetFlow/IPFIX version {0}")]
    UnsupportedVersion(u16),
    /// An IPFIX length field that is below the header or beyond the datagram.
    #[error("IPFIX message length {length} is invalid for a {available}-byte datagram")]
    MessageLength {
        /// The header's length.
        length: u16,
        /// Bytes received.
        available: usize,
    },
    /// A set header with a length below 4 or beyond the message.
    #[error("set {set_id} at offset {offset} has invalid length {length}")]
    SetLength {
        /// Set ID.
        set_id: u16,
        /// Offset of the set header.
        offset: usize,
        /// Its length field.
        length: u16,
    },
    /// A template or options template record that cannot be valid.
    #[error("invalid template {template_id} in set {set_id}: {why}")]
    Template {
        /// Set ID.
        set_id: u16,
        /// Template ID.
        template_id: u16,
        /// What is wrong.
        why: &'static str,
    },
    /// A data record that runs past its set.
    #[error("data record of template {template_id} runs past its set")]
    Record {
        /// Template ID.
        template_id: u16,
    },
    /// More distinct templates than [`MAX_TEMPLATES`].
    #[error("template cache full ({MAX_TEMPLATES} templates)")]
    TooManyTemplates,
}

/// One field of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldDef {
    /// Information Element ID (enterprise bit cleared) or v9 field / scope type.
    pub ie: u16,
    /// Enterprise number of an enterprise-specific IPFIX element.
    pub enterprise: Option<u32>,
    /// Length on the wire; [`VARIABLE_LENGTH`] for variable-length fields.
    pub len: u16,
    /// Whether this is a scope field of an options template.
    pub scope: bool,
}

/// A template or options template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateDef {
    /// Template ID.
    pub id: u16,
    /// Fields in wire order, scope fields first.
    pub fields: Vec<FieldDef>,
    /// Whether it came in an options template set.
    pub options: bool,
}

impl TemplateDef {
    fn min_record_len(&self) -> usize {
        self.fields
            .iter()
            .map(|f| {
                if f.len == VARIABLE_LENGTH {
                    1
                } else {
                    usize::from(f.len)
                }
            })
            .sum()
    }
}

/// One decoded field value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValue {
    /// The field's definition.
    pub def: FieldDef,
    /// Its raw bytes (network order).
    pub value: Vec<u8>,
}

/// One decoded data or options data record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataRecord {
    /// The fields in template order.
    pub fields: Vec<FieldValue>,
}

impl DataRecord {
    /// The bytes of the first non-scope IANA field `ie`.
    pub fn get(&self, ie: u16) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.def.ie == ie && f.def.enterprise.is_none() && !f.def.scope)
            .map(|f| f.value.as_slice())
    }

    /// Field `ie` as an unsigned integer (any length up to 8 octets, network order).
    pub fn uint(&self, ie: u16) -> Option<u64> {
        self.get(ie).and_then(be_uint)
    }

    /// The bytes of the first scope field of type / IE `ie`.
    pub fn scope(&self, ie: u16) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.def.ie == ie && f.def.scope)
            .map(|f| f.value.as_slice())
    }
}

fn be_uint(b: &[u8]) -> Option<u64> {
    if b.len() > 8 {
        return None;
    }
    Some(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
}

/// Why a set was not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// A data set whose template has not been seen from this exporter and domain.
    NoTemplate,
    /// A reserved set ID (v9 2–255, IPFIX 0, 1, 4–255).
    Reserved,
}

/// One set (FlowSet) of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Set {
    /// Template records (withdrawals, field count 0, are applied and not listed).
    Templates(Vec<TemplateDef>),
    /// Options template records.
    OptionsTemplates(Vec<TemplateDef>),
    /// Data records of a known template.
    Data {
        /// The template (= set) ID.
        template_id: u16,
        /// Whether the template is an options template.
        options: bool,
        /// The records.
        records: Vec<DataRecord>,
    },
    /// A set that was skipped.
    Skipped {
        /// Set ID.
        set_id: u16,
        /// Set length.
        length: u16,
        /// Why.
        reason: SkipReason,
    },
}

/// The message header of either version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// 9 or 10.
    pub version: u16,
    /// v9: the record count field; IPFIX: the message length.
    pub count_or_length: u16,
    /// v9 sysUpTime (ms); `None` for IPFIX.
    pub sys_uptime_ms: Option<u32>,
    /// v9 UNIX secs / IPFIX export time.
    pub export_secs: u32,
    /// Sequence number.
    pub sequence: u32,
    /// v9 Source ID / IPFIX Observation Domain ID.
    pub domain: u32,
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The header.
    pub header: Header,
    /// The sets, in order.
    pub sets: Vec<Set>,
}

/// A flow record of one of nsflow's mode templates, read back from a data record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectedFlow {
    /// Mode, from the template ID (256 + index).
    pub mode: AggregationMode,
    /// Key fields present in the template (others 0).
    pub key: FlowKey,
    /// deltaFlowCount.
    pub flows: u64,
    /// packetDeltaCount.
    pub packets: u64,
    /// octetDeltaCount.
    pub bytes: u64,
    /// Start, UNIX ms (v9: converted from FIRST_SWITCHED with the header's times).
    pub start_ms: u64,
    /// End, UNIX ms.
    pub end_ms: u64,
    /// flowEndReason, when the template has it (IPFIX).
    pub end_reason: Option<EndReason>,
}

impl Decoded {
    /// Data records in the message (options data included).
    pub fn data_records(&self) -> usize {
        self.sets
            .iter()
            .map(|s| match s {
                Set::Data { records, .. } => records.len(),
                _ => 0,
            })
            .sum()
    }

    /// Template and options template records in the message.
    pub fn template_records(&self) -> usize {
        self.sets
            .iter()
            .map(|s| match s {
                Set::Templates(t) | Set::OptionsTemplates(t) => t.len(),
                _ => 0,
            })
            .sum()
    }

    /// The export-reliability counters of A15 in this message's options data, with the
    /// observation domain they are about: the last options data record that carries all
    /// five (notSent{Flow,Packet,Octet}TotalCount and ignored{Packet,Octet}TotalCount),
    /// if any. The domain is the record's scope (observationDomainId in IPFIX, the System
    /// scope holding the Source ID in v9), else the header's. A collector keeps the latest
    /// per exporter and domain: the counters are cumulative.
    pub fn loss_counters(&self) -> Option<(u32, LossCounters)> {
        self.sets
            .iter()
            .filter_map(|s| match s {
                Set::Data {
                    options: true,
                    records,
                    ..
                } => Some(records),
                _ => None,
            })
            .flatten()
            .filter_map(|r| {
                let domain = r
                    .scope(ie::OBSERVATION_DOMAIN_ID)
                    .or_else(|| r.scope(ie::V9_SCOPE_SYSTEM))
                    .and_then(be_uint)
                    .and_then(|d| u32::try_from(d).ok())
                    .unwrap_or(self.header.domain);
                let counters = LossCounters {
                    not_sent_flows: r.uint(ie::NOT_SENT_FLOW_TOTAL_COUNT)?,
                    not_sent_packets: r.uint(ie::NOT_SENT_PACKET_TOTAL_COUNT)?,
                    not_sent_octets: r.uint(ie::NOT_SENT_OCTET_TOTAL_COUNT)?,
                    ignored_packets: r.uint(ie::IGNORED_PACKET_TOTAL_COUNT)?,
                    ignored_octets: r.uint(ie::IGNORED_OCTET_TOTAL_COUNT)?,
                };
                Some((domain, counters))
            })
            .next_back()
    }

    /// The records of nsflow mode templates (IDs 256 + mode index) as flows.
    pub fn flows(&self) -> Vec<CollectedFlow> {
        let mut v = Vec::new();
        for s in &self.sets {
            if let Set::Data {
                template_id,
                options: false,
                records,
            } = s
            {
                let Some(mode) = template_id
                    .checked_sub(256)
                    .and_then(|i| u8::try_from(i).ok())
                    .and_then(AggregationMode::from_index)
                else {
                    continue;
                };
                v.extend(records.iter().map(|r| self.flow(mode, r)));
            }
        }
        v
    }

    fn flow(&self, mode: AggregationMode, r: &DataRecord) -> CollectedFlow {
        let u = |ie: u16| r.uint(ie).unwrap_or(0);
        let u32f = |ie: u16| u32::try_from(u(ie)).unwrap_or(u32::MAX);
        let addr = |a: u16, b: u16| -> [u8; 16] {
            r.get(a)
                .or_else(|| r.get(b))
                .and_then(|x| <[u8; 16]>::try_from(x).ok())
                .unwrap_or([0; 16])
        };
        let (start_ms, end_ms) = match self.header.sys_uptime_ms {
            Some(up) => {
                // Signed distance from sysUpTime, so that times up to 24 days before or
                // after the header time (and across the 2^32 ms wrap) convert correctly.
                let abs = |rel: u64| {
                    let behind = i64::from(up.wrapping_sub(rel as u32) as i32);
                    (i64::from(self.header.export_secs) * 1000 - behind) as u64
                };
                (
                    abs(u(ie::FLOW_START_SYS_UP_TIME)),
                    abs(u(ie::FLOW_END_SYS_UP_TIME)),
                )
            }
            None => (u(ie::FLOW_START_MILLISECONDS), u(ie::FLOW_END_MILLISECONDS)),
        };
        let key = FlowKey {
            src_addr: addr(ie::SOURCE_IPV6_PREFIX, ie::SOURCE_IPV6_ADDRESS),
            dst_addr: addr(ie::DESTINATION_IPV6_PREFIX, ie::DESTINATION_IPV6_ADDRESS),
            next_hop: addr(ie::BGP_NEXT_HOP_IPV6_ADDRESS, ie::BGP_NEXT_HOP_IPV6_ADDRESS),
            src_as: u32f(ie::BGP_SOURCE_AS_NUMBER),
            dst_as: u32f(ie::BGP_DESTINATION_AS_NUMBER),
            in_if: u32f(ie::INGRESS_INTERFACE),
            out_if: u32f(ie::EGRESS_INTERFACE),
            top_label_addr: u32f(ie::MPLS_TOP_LABEL_IPV4_ADDRESS),
            mpls: [
                u32f(ie::MPLS_TOP_LABEL_STACK_SECTION),
                u32f(ie::MPLS_LABEL_STACK_SECTION2),
                u32f(ie::MPLS_LABEL_STACK_SECTION3),
            ],
            vlan: u(ie::VLAN_ID) as u16,
            src_port: u(ie::SOURCE_TRANSPORT_PORT) as u16,
            dst_port: u(ie::DESTINATION_TRANSPORT_PORT) as u16,
            protocol: u(ie::PROTOCOL_IDENTIFIER) as u8,
            tos: u(ie::IP_CLASS_OF_SERVICE) as u8,
            src_plen: u(ie::SOURCE_IPV6_PREFIX_LENGTH) as u8,
            dst_plen: u(ie::DESTINATION_IPV6_PREFIX_LENGTH) as u8,
            direction: u(ie::FLOW_DIRECTION) as u8,
        };
        CollectedFlow {
            mode,
            key,
            flows: u(ie::DELTA_FLOW_COUNT),
            packets: u(ie::PACKET_DELTA_COUNT),
            bytes: u(ie::OCTET_DELTA_COUNT),
            start_ms,
            end_ms,
            end_reason: r
                .uint(ie::FLOW_END_REASON)
                .and_then(|c| u8::try_from(c).ok())
                .and_then(EndReason::from_code),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TemplateKey {
    exporter: SocketAddr,
    version: u16,
    domain: u32,
    id: u16,
}

/// A bounds-checked big-endian reader over one message.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let have = self.end.saturating_sub(self.pos);
        if n > have {
            return Err(DecodeError::Truncated {
                what,
                offset: self.pos,
                need: n,
                have,
            });
        }
        // n <= have = end - pos: no overflow.
        let s = self
            .b
            .get(self.pos..self.pos + n)
            .ok_or(DecodeError::Truncated {
                what,
                offset: self.pos,
                need: n,
                have: 0,
            })?;
        self.pos += n;
        Ok(s)
    }

    /// The next `N` bytes as an array ([`Self::take`] of `N`).
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        // `take` returned exactly N bytes; the error arm is for the type system only.
        s.first_chunk::<N>().copied().ok_or(DecodeError::Truncated {
            what,
            offset: self.pos,
            need: N,
            have: s.len(),
        })
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let [x] = self.array::<1>(what)?;
        Ok(x)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn left(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    fn rest_is_zero(&self) -> bool {
        self.b
            .get(self.pos..self.end)
            .is_none_or(|r| r.iter().all(|x| *x == 0))
    }
}

/// Decoder state: the template cache.
#[derive(Debug, Default)]
pub struct Decoder {
    templates: HashMap<TemplateKey, Arc<TemplateDef>>,
}

impl Decoder {
    /// A decoder with no templates.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one UDP payload from `exporter` (its address and port scope the templates).
    /// Bytes after an IPFIX message's length are ignored.
    pub fn decode(&mut self, exporter: SocketAddr, msg: &[u8]) -> Result<Decoded, DecodeError> {
        let mut r = Reader {
            b: msg,
            pos: 0,
            end: msg.len(),
        };
        let version = r.u16("header")?;
        let header = match version {
            9 => {
                let count = r.u16("v9 header")?;
                let up = r.u32("v9 header")?;
                let secs = r.u32("v9 header")?;
                let seq = r.u32("v9 header")?;
                let domain = r.u32("v9 header")?;
                Header {
                    version,
                    count_or_length: count,
                    sys_uptime_ms: Some(up),
                    export_secs: secs,
                    sequence: seq,
                    domain,
                }
            }
            10 => {
                let length = r.u16("IPFIX header")?;
                let secs = r.u32("IPFIX header")?;
                let seq = r.u32("IPFIX header")?;
                let domain = r.u32("IPFIX header")?;
                if usize::from(length) < 16 || usize::from(length) > msg.len() {
                    return Err(DecodeError::MessageLength {
                        length,
                        available: msg.len(),
                    });
                }
                r.end = usize::from(length);
                Header {
                    version,
                    count_or_length: length,
                    sys_uptime_ms: None,
                    export_secs: secs,
                    sequence: seq,
                    domain,
                }
            }
            v => return Err(DecodeError::UnsupportedVersion(v)),
        };
        let mut sets = Vec::new();
        while r.left() > 0 {
            if r.left() < 4 && (version == 9 || r.rest_is_zero()) {
                break; // trailing padding
            }
            let offset = r.pos;
            let set_id = r.u16("set header")?;
            let length = r.u16("set header")?;
            if usize::from(length) < 4 || usize::from(length) - 4 > r.left() {
                r.pos = offset;
                if version == 9 && r.rest_is_zero() {
                    break; // a zero-filled tail (seen from real v9 exporters)
                }
                return Err(DecodeError::SetLength {
                    set_id,
                    offset,
                    length,
                });
            }
            let body_end = offset + usize::from(length);
            let mut body = Reader {
                b: msg,
                pos: r.pos,
                end: body_end,
            };
            r.pos = body_end;
            let key = |id| TemplateKey {
                exporter,
                version,
                domain: header.domain,
                id,
            };
            let set = match (version, set_id) {
                (9, 0) | (10, 2) => {
                    Set::Templates(self.templates_set(&mut body, version, set_id, false, &key)?)
                }
                (9, 1) | (10, 3) => Set::OptionsTemplates(
                    self.templates_set(&mut body, version, set_id, true, &key)?,
                ),
                (_, id) if id >= 256 => match self.templates.get(&key(id)) {
                    Some(t) => Set::Data {
                        template_id: id,
                        options: t.options,
                        records: data_set(&mut body, t)?,
                    },
                    None => Set::Skipped {
                        set_id,
                        length,
                        reason: SkipReason::NoTemplate,
                    },
                },
                _ => Set::Skipped {
                    set_id,
                    length,
                    reason: SkipReason::Reserved,
                },
            };
            sets.push(set);
        }
        Ok(Decoded { header, sets })
    }

    fn templates_set(
        &mut self,
        r: &mut Reader<'_>,
        version: u16,
        set_id: u16,
        options: bool,
        key: &dyn Fn(u16) -> TemplateKey,
    ) -> Result<Vec<TemplateDef>, DecodeError> {
        let mut out = Vec::new();
        // A record needs at least its ID and counts: shorter tails are padding.
        let min = if options && version == 10 { 6 } else { 4 };
        while r.left() >= min {
            if r.rest_is_zero() {
                break; // padding
            }
            let id = r.u16("template header")?;
            let bad = |why| DecodeError::Template {
                set_id,
                template_id: id,
                why,
            };
            let (scope_n, field_n) = if !options {
                (0usize, usize::from(r.u16("template header")?))
            } else if version == 9 {
                let scope_len = r.u16("options template header")?;
                let opt_len = r.u16("options template header")?;
                if scope_len % 4 != 0 || opt_len % 4 != 0 {
                    return Err(bad("scope or option length not a multiple of 4"));
                }
                (usize::from(scope_len / 4), usize::from(opt_len / 4))
            } else {
                let total = usize::from(r.u16("options template header")?);
                let scope = usize::from(r.u16("options template header")?);
                if total == 0 {
                    (0, 0) // withdrawal
                } else if scope == 0 || scope > total {
                    return Err(bad("scope field count is 0 or above the field count"));
                } else {
                    (scope, total - scope)
                }
            };
            if id < 256 {
                return Err(bad("template ID below 256"));
            }
            if scope_n + field_n == 0 {
                // Withdrawal (IPFIX); RFC 7011 §8.4: ignored over UDP, but a later
                // definition replaces the old one anyway. Forget it.
                self.templates.remove(&key(id));
                continue;
            }
            // A field specifier takes at least 4 bytes: what is left bounds the count
            // worth reserving for (a lying header fails at the first short read).
            let mut fields = Vec::with_capacity((scope_n + field_n).min(r.left() / 4));
            for i in 0..scope_n + field_n {
                let raw = r.u16("template field")?;
                let len = r.u16("template field")?;
                let (ie, enterprise) = if version == 10 && raw & 0x8000 != 0 {
                    (raw & 0x7fff, Some(r.u32("enterprise number")?))
                } else {
                    (raw, None)
                };
                fields.push(FieldDef {
                    ie,
                    enterprise,
                    len,
                    scope: i < scope_n,
                });
            }
            let t = TemplateDef {
                id,
                fields,
                options,
            };
            let k = key(id);
            if !self.templates.contains_key(&k) && self.templates.len() >= MAX_TEMPLATES {
                return Err(DecodeError::TooManyTemplates);
            }
            self.templates.insert(k, Arc::new(t.clone()));
            out.push(t);
        }
        Ok(out)
    }
}

fn data_set(r: &mut Reader<'_>, t: &TemplateDef) -> Result<Vec<DataRecord>, DecodeError> {
    let min = t.min_record_len();
    let mut out = Vec::new();
    if min == 0 {
        return Ok(out); // only zero-length fields: nothing to read
    }
    while r.left() >= min {
        let start = r.pos;
        match record(r, t) {
            Ok(rec) => out.push(rec),
            Err(_) => {
                // A tail that is too short for a record is padding if it is all zero.
                r.pos = start;
                if r.rest_is_zero() {
                    break;
                }
                return Err(DecodeError::Record { template_id: t.id });
            }
        }
    }
    Ok(out)
}

fn record(r: &mut Reader<'_>, t: &TemplateDef) -> Result<DataRecord, DecodeError> {
    let mut fields = Vec::with_capacity(t.fields.len());
    for def in &t.fields {
        let len = if def.len == VARIABLE_LENGTH {
            match r.u8("variable length")? {
                255 => usize::from(r.u16("variable length")?),
                n => usize::from(n),
            }
        } else {
            usize::from(def.len)
        };
        let value = r.take(len, "field")?.to_vec();
        fields.push(FieldValue { def: *def, value });
    }
    Ok(DataRecord { fields })
}
