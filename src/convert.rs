//! Device records to exporter flows: the profile's mode, the masked key, the counters and
//! the device's nanosecond clock mapped to UNIX epoch milliseconds.

use nsflow_exporter::FlowRecord;
use nsflow_rtl::record::Record;
use nsflow_rtl::AggregationMode;

/// Maps device nanoseconds to UNIX nanoseconds: one anchor pair taken at bring-up (device
/// clock read, wall clock read), or the first packet's capture time on a replay so that
/// exported times are the capture's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBase {
    /// Device clock at the anchor.
    pub device_ns: u64,
    /// UNIX time at the anchor, ns.
    pub unix_ns: u64,
}

impl TimeBase {
    /// UNIX milliseconds of a device time (saturating, never panics).
    pub fn unix_ms(&self, device_ns: u64) -> u64 {
        let unix = if device_ns >= self.device_ns {
            self.unix_ns.saturating_add(device_ns - self.device_ns)
        } else {
            self.unix_ns.saturating_sub(self.device_ns - device_ns)
        };
        unix / 1_000_000
    }
}

/// Converts drained records. `modes[p]` is the mode of profile `p`; the ring consumer has
/// already refused records of unknown profiles, so none is dropped here.
pub fn to_flows(
    records: &[Record],
    modes: &[AggregationMode],
    time: &TimeBase,
    out: &mut Vec<FlowRecord>,
) {
    // A plain loop into reserved space: each flow is built in place (an iterator adapter
    // here cost a call and a copy per record on the drain path).
    out.reserve(records.len());
    for r in records {
        let Some(&mode) = modes.get(usize::from(r.profile)) else {
            continue;
        };
        out.push(FlowRecord {
            mode,
            key: r.key,
            flows: u64::from(r.flows),
            packets: r.packets,
            bytes: r.bytes,
            start_ms: time.unix_ms(r.first_ns),
            end_ms: time.unix_ms(r.last_ns),
            end_reason: r.reason,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsflow_rtl::{EndReason, FlowKey};

    #[test]
    fn times_map_through_the_anchor_and_modes_through_the_profile() {
        let tb = TimeBase {
            device_ns: 5_000_000_000,
            unix_ns: 1_704_067_200_000_000_000,
        };
        assert_eq!(tb.unix_ms(5_000_000_000), 1_704_067_200_000);
        assert_eq!(tb.unix_ms(5_250_000_000), 1_704_067_200_250);
        assert_eq!(tb.unix_ms(4_000_000_000), 1_704_067_199_000);
        assert_eq!(
            TimeBase {
                device_ns: 10,
                unix_ns: 5
            }
            .unix_ms(0),
            0,
            "saturates"
        );
        let r = Record {
            profile: 1,
            reason: EndReason::Active,
            phase: true,
            flows: 3,
            packets: 9,
            bytes: 900,
            first_ns: 5_000_000_000,
            last_ns: 6_000_000_000,
            key: FlowKey {
                vlan: 7,
                ..FlowKey::default()
            },
        };
        let mut out = Vec::new();
        to_flows(
            &[r],
            &[AggregationMode::As, AggregationMode::VlanId],
            &tb,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        let f = out[0];
        assert_eq!(
            (f.mode, f.flows, f.packets, f.bytes),
            (AggregationMode::VlanId, 3, 9, 900)
        );
        assert_eq!(
            (f.start_ms, f.end_ms),
            (1_704_067_200_000, 1_704_067_201_000)
        );
        assert_eq!((f.key.vlan, f.end_reason), (7, EndReason::Active));
    }
}
