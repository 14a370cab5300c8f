//! The BAR0 register map: every register and field defined once, here.
//!
//! The generated artefacts (docs/regmap.md, docs/nsflow_regs.h, docs/regmap.json,
//! docs/nsflow.rdl), hwsim's register file and the driver's accessors and `regcheck` suite
//! all derive from [`REGISTERS`]. Typed views of multi-field registers use the `bitfield`
//! crate; a test checks every view against the table.
//!
//! Conventions: 32-bit registers, little-endian, naturally aligned. Reserved bits read 0
//! and ignore writes; writes to reserved bits, to read-only registers and to offsets not in
//! the map are ignored and counted in [`UNKNOWN_ACCESS`]. 64-bit statistics are two
//! registers (LO then HI) and read consistently: writing `CTRL.stats_snapshot` latches
//! every counter at once, and reads return the latched values until the next snapshot.
//! `TIME_LO` has a read side effect: reading it latches the upper half into `TIME_HI`.

use bitfield::bitfield;

/// Software access type of a field (SystemRDL vocabulary in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read-only: writes ignored (and counted) [sw=r].
    Ro,
    /// Read/write [sw=rw].
    Rw,
    /// Read, write 1 to clear [sw=rw, onwrite=woclr].
    W1c,
    /// Write-only, reads 0; a write triggers an action [sw=w, singlepulse].
    Wo,
}

impl Access {
    /// The token used in the documentation and JSON.
    pub const fn token(self) -> &'static str {
        match self {
            Self::Ro => "RO",
            Self::Rw => "RW",
            Self::W1c => "W1C",
            Self::Wo => "WO",
        }
    }
}

/// One field of a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Field name (lower case).
    pub name: &'static str,
    /// Least significant bit.
    pub lsb: u8,
    /// Width in bits.
    pub width: u8,
    /// Access type.
    pub access: Access,
    /// Value after reset (for build parameters: the contract's default build).
    pub reset: u32,
    /// Reset value depends on the hardware build (capabilities).
    pub build_param: bool,
    /// One-line description.
    pub doc: &'static str,
}

impl Field {
    /// The field's bits within the register.
    pub const fn mask(&self) -> u32 {
        let ones = if self.width >= 32 {
            u32::MAX
        } else {
            (1u32 << self.width) - 1
        };
        ones << self.lsb
    }

    /// This field's value in a register value.
    pub const fn get(&self, reg: u32) -> u32 {
        (reg & self.mask()) >> self.lsb
    }

    /// `reg` with this field set to `value` (truncated to the field).
    pub const fn set(&self, reg: u32, value: u32) -> u32 {
        (reg & !self.mask()) | ((value << self.lsb) & self.mask())
    }
}

/// One register, or an array of registers at a fixed stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    /// Register name (upper case).
    pub name: &'static str,
    /// Offset of the first instance in BAR0.
    pub offset: u32,
    /// Number of instances (1 for a plain register).
    pub count: u32,
    /// Distance between instances in bytes.
    pub stride: u32,
    /// Block the register belongs to.
    pub block: &'static str,
    /// One-line description.
    pub doc: &'static str,
    /// Its fields, by increasing lsb; bits not covered are reserved.
    pub fields: &'static [Field],
}

impl Register {
    /// Offset of instance `i` (callers keep `i < count`).
    pub const fn at(&self, i: u32) -> u32 {
        self.offset + i * self.stride
    }

    /// The register's value after reset.
    pub const fn reset(&self) -> u32 {
        let mut v = 0;
        let mut i = 0;
        while i < self.fields.len() {
            v |= (self.fields[i].reset << self.fields[i].lsb) & self.fields[i].mask();
            i += 1;
        }
        v
    }

    /// Bits that belong to a field.
    pub const fn defined_mask(&self) -> u32 {
        let mut m = 0;
        let mut i = 0;
        while i < self.fields.len() {
            m |= self.fields[i].mask();
            i += 1;
        }
        m
    }

    /// Bits software can write and read back (RW fields).
    pub const fn rw_mask(&self) -> u32 {
        self.access_mask(Access::Rw)
    }

    /// Bits of fields with access `a`.
    pub const fn access_mask(&self, a: Access) -> u32 {
        let mut m = 0;
        let mut i = 0;
        while i < self.fields.len() {
            if self.fields[i].access as u8 == a as u8 {
                m |= self.fields[i].mask();
            }
            i += 1;
        }
        m
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn f(
    name: &'static str,
    lsb: u8,
    width: u8,
    access: Access,
    reset: u32,
    doc: &'static str,
) -> Field {
    Field {
        name,
        lsb,
        width,
        access,
        reset,
        build_param: false,
        doc,
    }
}

const fn build(name: &'static str, lsb: u8, width: u8, reset: u32, doc: &'static str) -> Field {
    Field {
        name,
        lsb,
        width,
        access: Access::Ro,
        reset,
        build_param: true,
        doc,
    }
}

const fn reg(
    name: &'static str,
    offset: u32,
    block: &'static str,
    doc: &'static str,
    fields: &'static [Field],
) -> Register {
    Register {
        name,
        offset,
        count: 1,
        stride: 4,
        block,
        doc,
        fields,
    }
}

/// Size of BAR0 in bytes.
pub const BAR0_SIZE: u32 = 0x2000;
/// Value of `ID_MAGIC`: "NSFL".
pub const MAGIC: u32 = 0x4E53_464C;
/// Major version of this register map; a driver refuses other majors.
pub const VERSION_MAJOR: u32 = 1;
/// Minor version (backwards-compatible additions).
pub const VERSION_MINOR: u32 = 0;
/// Aggregation profiles in the contract's build (one per aggregation mode).
pub const NUM_PROFILES: u32 = 14;
/// Smallest ring the device accepts, log2 of entries.
pub const RING_MIN_LOG2: u32 = 4;
/// Largest ring the device accepts, log2 of entries.
pub const RING_MAX_LOG2: u32 = 20;
/// Stride of a profile block.
pub const PROFILE_STRIDE: u32 = 0x80;
/// Base of profile block 0.
pub const PROFILE_BASE: u32 = 0x1000;
/// Base of the global 64-bit statistics.
pub const STATS_BASE: u32 = 0x200;
/// Offset of the first statistic inside a profile block.
pub const PROFILE_STATS_OFFSET: u32 = 0x20;

use Access::{Ro, Rw, W1c, Wo};

/// Identification: "NSFL".
pub const ID_MAGIC: Register = reg(
    "ID_MAGIC",
    0x000,
    "id",
    "Magic number identifying an nsflow engine",
    &[f("magic", 0, 32, Ro, MAGIC, "0x4E53464C (\"NSFL\")")],
);
/// Register-map version.
pub const ID_VERSION: Register = reg(
    "ID_VERSION",
    0x004,
    "id",
    "Register-map version",
    &[
        f(
            "minor",
            0,
            16,
            Ro,
            VERSION_MINOR,
            "Minor version: compatible additions",
        ),
        f(
            "major",
            16,
            16,
            Ro,
            VERSION_MAJOR,
            "Major version: a driver refuses other majors",
        ),
    ],
);
/// Profile and record capabilities.
pub const CAP_PROFILES: Register = reg(
    "CAP_PROFILES",
    0x008,
    "id",
    "Profile, record and ring capabilities",
    &[
        build(
            "profiles",
            0,
            8,
            NUM_PROFILES,
            "Aggregation profiles implemented",
        ),
        build(
            "record_bytes",
            8,
            8,
            crate::record::RECORD_BYTES as u32,
            "Size of a ring record in bytes",
        ),
        build(
            "record_format",
            16,
            8,
            crate::record::RECORD_FORMAT_VERSION as u32,
            "Ring record format version",
        ),
        build(
            "ring_max_log2",
            24,
            5,
            RING_MAX_LOG2,
            "Largest ring, log2 of entries",
        ),
    ],
);
/// Original-flow table geometry.
pub const CAP_ORIG_TABLE: Register = reg(
    "CAP_ORIG_TABLE",
    0x00C,
    "id",
    "Original-flow (stage 1) table geometry",
    &[
        build("sets_log2", 0, 8, 17, "Sets, log2"),
        build("ways", 8, 8, 8, "Ways per set"),
    ],
);
/// Aggregation table geometry.
pub const CAP_AGG_TABLE: Register = reg(
    "CAP_AGG_TABLE",
    0x010,
    "id",
    "Aggregation (stage 2) table geometry, per profile",
    &[
        build("sets_log2", 0, 8, 16, "Sets, log2"),
        build("ways", 8, 8, 8, "Ways per set"),
    ],
);
/// Core clock.
pub const CAP_CLOCK: Register = reg(
    "CAP_CLOCK",
    0x014,
    "id",
    "Core clock frequency",
    &[build("khz", 0, 32, 250_000, "Core clock in kHz")],
);
/// Lookup table sizes.
pub const CAP_TABLES: Register = reg(
    "CAP_TABLES",
    0x018,
    "id",
    "Lookup table sizes",
    &[
        build(
            "route_entries",
            0,
            16,
            crate::tables::ROUTE_ENTRIES as u32,
            "Route table entries",
        ),
        build(
            "label_entries",
            16,
            16,
            crate::tables::LABEL_ENTRIES as u32,
            "Label table entries",
        ),
    ],
);
/// Global control.
pub const CTRL: Register = reg(
    "CTRL",
    0x020,
    "control",
    "Global control",
    &[
        f(
            "enable",
            0,
            1,
            Rw,
            0,
            "Accept packets; 0 drops nothing already in the tables",
        ),
        f(
            "soft_reset",
            1,
            1,
            Wo,
            0,
            "Write 1: reset every register, table and counter",
        ),
        f(
            "flush",
            2,
            1,
            Wo,
            0,
            "Write 1: export every entry of both stages (reason forced)",
        ),
        f(
            "stats_snapshot",
            3,
            1,
            Wo,
            0,
            "Write 1: latch every 64-bit statistic for reading",
        ),
    ],
);
/// Global status.
pub const STATUS: Register = reg(
    "STATUS",
    0x024,
    "control",
    "Global status",
    &[
        f("flush_busy", 0, 1, Ro, 0, "A flush is running"),
        f(
            "error",
            1,
            1,
            Ro,
            0,
            "The device stopped on an error; soft reset clears it",
        ),
        f(
            "ring_full",
            2,
            1,
            Ro,
            0,
            "The ring holds 2^log2 unconsumed records (producer - consumer = entries)",
        ),
        f(
            "error_code",
            8,
            8,
            Ro,
            0,
            "1 DMA outside the ring or mapping, 2 bad ring configuration",
        ),
    ],
);
/// Completed flushes.
pub const FLUSH_COUNT: Register = reg(
    "FLUSH_COUNT",
    0x028,
    "control",
    "Flushes completed since reset",
    &[f(
        "count",
        0,
        32,
        Ro,
        0,
        "Increments when a flush's last record is in the ring",
    )],
);
/// Ignored accesses.
pub const UNKNOWN_ACCESS: Register = reg(
    "UNKNOWN_ACCESS",
    0x02C,
    "control",
    "Writes ignored: unknown offsets, read-only registers, reserved bits",
    &[f("count", 0, 32, Ro, 0, "Saturating count")],
);
/// Time, low half.
pub const TIME_LO: Register = reg(
    "TIME_LO",
    0x030,
    "time",
    "Free-running nanosecond clock, low half; reading latches TIME_HI",
    &[f("ns", 0, 32, Ro, 0, "Bits 31:0 of the clock")],
);
/// Time, high half.
pub const TIME_HI: Register = reg(
    "TIME_HI",
    0x034,
    "time",
    "Nanosecond clock, high half as latched by the last TIME_LO read",
    &[f("ns", 0, 32, Ro, 0, "Bits 63:32 of the clock")],
);
/// Original-flow active timeout.
pub const ORIG_ACTIVE: Register = reg(
    "ORIG_ACTIVE",
    0x040,
    "original",
    "Original-flow active timeout",
    &[f(
        "seconds",
        0,
        16,
        Rw,
        1800,
        "Seconds (VRP: ipv6 netstream timeout active, default 30 min; 0 ends every entry at its next check)",
    )],
);
/// Original-flow inactive timeout.
pub const ORIG_INACTIVE: Register = reg(
    "ORIG_INACTIVE",
    0x044,
    "original",
    "Original-flow inactive timeout",
    &[f(
        "seconds",
        0,
        16,
        Rw,
        30,
        "Seconds (VRP: ipv6 netstream timeout inactive, default 30 s; 0 ends every entry at its next check)",
    )],
);
/// Original-flow control.
pub const ORIG_CTRL: Register = reg(
    "ORIG_CTRL",
    0x048,
    "original",
    "Original-flow aging control",
    &[f(
        "fin_rst_aging",
        0,
        1,
        Rw,
        1,
        "Age a flow on TCP FIN or RST unless it is its first packet",
    )],
);
/// Aging scanner control.
pub const SCAN_CTRL: Register = reg(
    "SCAN_CTRL",
    0x04C,
    "original",
    "Aging scanner share of table bandwidth",
    &[f(
        "share",
        0,
        8,
        Rw,
        32,
        "Table slots per 256 cycles given to the scanner (1-255; 0 stops aging)",
    )],
);
/// Interrupt status.
pub const INT_STATUS: Register = reg(
    "INT_STATUS",
    0x050,
    "interrupt",
    "Interrupt causes, write 1 to clear",
    &[
        f(
            "records",
            0,
            1,
            W1c,
            0,
            "Records were written (after moderation)",
        ),
        f("flush_done", 1, 1, W1c, 0, "A flush completed"),
        f("error", 2, 1, W1c, 0, "The device entered the error state"),
        f("ring_full", 3, 1, W1c, 0, "The ring became full"),
    ],
);
/// Interrupt mask.
pub const INT_MASK: Register = reg(
    "INT_MASK",
    0x054,
    "interrupt",
    "Interrupt mask: 1 masks the cause",
    &[
        f("records", 0, 1, Rw, 1, "Mask records"),
        f("flush_done", 1, 1, Rw, 1, "Mask flush_done"),
        f("error", 2, 1, Rw, 1, "Mask error"),
        f("ring_full", 3, 1, Rw, 1, "Mask ring_full"),
    ],
);
/// Moderation by count.
pub const INT_MOD_RECORDS: Register = reg(
    "INT_MOD_RECORDS",
    0x058,
    "interrupt",
    "Interrupt moderation by count",
    &[f(
        "count",
        0,
        16,
        Rw,
        64,
        "Raise after this many records (0 = every record)",
    )],
);
/// Moderation by time.
pub const INT_MOD_TIME: Register = reg(
    "INT_MOD_TIME",
    0x05C,
    "interrupt",
    "Interrupt moderation by time",
    &[f(
        "usec",
        0,
        16,
        Rw,
        50,
        "Raise at most this long after the first pending record (0 = at once)",
    )],
);
/// Ring base, low.
pub const RING_BASE_LO: Register = reg(
    "RING_BASE_LO",
    0x060,
    "ring",
    "Record ring IOVA, low half (4 KiB aligned)",
    &[f("addr", 12, 20, Rw, 0, "IOVA bits 31:12")],
);
/// Ring base, high.
pub const RING_BASE_HI: Register = reg(
    "RING_BASE_HI",
    0x064,
    "ring",
    "Record ring IOVA, high half",
    &[f("addr", 0, 32, Rw, 0, "IOVA bits 63:32")],
);
/// Ring size.
pub const RING_SIZE: Register = reg(
    "RING_SIZE",
    0x068,
    "ring",
    "Record ring size; writing resets both indices",
    &[f(
        "log2",
        0,
        5,
        Rw,
        0,
        "Entries = 2^log2, 4..20; 0 = no ring",
    )],
);
/// Write-back address, low.
pub const RING_WB_LO: Register = reg(
    "RING_WB_LO",
    0x06C,
    "ring",
    "Producer-index write-back IOVA, low half (8-byte aligned): the device writes the 32-bit producer index there as 8 bytes LE, zero-extended; 0 = no write-back",
    &[f("addr", 3, 29, Rw, 0, "IOVA bits 31:3")],
);
/// Write-back address, high.
pub const RING_WB_HI: Register = reg(
    "RING_WB_HI",
    0x070,
    "ring",
    "Producer-index write-back IOVA, high half",
    &[f("addr", 0, 32, Rw, 0, "IOVA bits 63:32")],
);
/// Producer index.
pub const RING_PROD: Register = reg(
    "RING_PROD",
    0x074,
    "ring",
    "Producer index (free-running; also written back to host memory)",
    &[f(
        "index",
        0,
        32,
        Ro,
        0,
        "Records written since the ring was configured",
    )],
);
/// Consumer index.
pub const RING_CONS: Register = reg(
    "RING_CONS",
    0x078,
    "ring",
    "Consumer index doorbell (free-running)",
    &[f("index", 0, 32, Rw, 0, "Records the driver has consumed")],
);
/// Route window index.
pub const ROUTE_INDEX: Register = reg(
    "ROUTE_INDEX",
    0x100,
    "route",
    "Route table window: entry index",
    &[f("index", 0, 10, Rw, 0, "Entry 0..1023")],
);
/// Route window command.
pub const ROUTE_CMD: Register = reg(
    "ROUTE_CMD",
    0x104,
    "route",
    "Route table window: command",
    &[f(
        "op",
        0,
        2,
        Wo,
        0,
        "1 write window to entry, 2 read entry to window, 3 invalidate all",
    )],
);
/// Route prefix words.
pub const ROUTE_PREFIX: Register = Register {
    name: "ROUTE_PREFIX",
    offset: 0x110,
    count: 4,
    stride: 4,
    block: "route",
    doc: "Route window: prefix, word 0 = bits 127:96",
    fields: &[f(
        "bits",
        0,
        32,
        Rw,
        0,
        "Prefix bits, network order by word",
    )],
};
/// Route next-hop words.
pub const ROUTE_NEXTHOP: Register = Register {
    name: "ROUTE_NEXTHOP",
    offset: 0x120,
    count: 4,
    stride: 4,
    block: "route",
    doc: "Route window: BGP next hop, word 0 = bits 127:96",
    fields: &[f(
        "bits",
        0,
        32,
        Rw,
        0,
        "Next-hop bits, network order by word",
    )],
};
/// Route metadata.
pub const ROUTE_META: Register = reg(
    "ROUTE_META",
    0x130,
    "route",
    "Route window: length and valid",
    &[
        f(
            "len",
            0,
            8,
            Rw,
            0,
            "Prefix length 0..128 (an entry written with more holds 128)",
        ),
        f("valid", 8, 1, Rw, 0, "Entry takes part in lookups"),
    ],
);
/// Route AS.
pub const ROUTE_AS: Register = reg(
    "ROUTE_AS",
    0x134,
    "route",
    "Route window: origin AS",
    &[f("asn", 0, 32, Rw, 0, "Origin AS")],
);
/// Route egress interface.
pub const ROUTE_OUTIF: Register = reg(
    "ROUTE_OUTIF",
    0x138,
    "route",
    "Route window: egress ifIndex",
    &[f("ifindex", 0, 32, Rw, 0, "Egress ifIndex")],
);
/// Interface window index.
pub const IFACE_INDEX: Register = reg(
    "IFACE_INDEX",
    0x140,
    "iface",
    "Interface table window: outer VLAN ID (0 = untagged)",
    &[f("vlan", 0, 12, Rw, 0, "VLAN ID")],
);
/// Interface window command.
pub const IFACE_CMD: Register = reg(
    "IFACE_CMD",
    0x144,
    "iface",
    "Interface table window: command",
    &[f(
        "op",
        0,
        2,
        Wo,
        0,
        "1 write window to entry, 2 read entry to window, 3 reserved (ignored)",
    )],
);
/// Interface window data.
pub const IFACE_IFINDEX: Register = reg(
    "IFACE_IFINDEX",
    0x148,
    "iface",
    "Interface table window: ingress ifIndex",
    &[f("ifindex", 0, 32, Rw, 0, "Ingress ifIndex")],
);
/// Label window index.
pub const LABEL_INDEX: Register = reg(
    "LABEL_INDEX",
    0x150,
    "label",
    "Label table window: entry index",
    &[f("index", 0, 6, Rw, 0, "Entry 0..63")],
);
/// Label window command.
pub const LABEL_CMD: Register = reg(
    "LABEL_CMD",
    0x154,
    "label",
    "Label table window: command",
    &[f(
        "op",
        0,
        2,
        Wo,
        0,
        "1 write window to entry, 2 read entry to window, 3 invalidate all",
    )],
);
/// Label value.
pub const LABEL_VALUE: Register = reg(
    "LABEL_VALUE",
    0x158,
    "label",
    "Label window: label and valid",
    &[
        f("label", 0, 20, Rw, 0, "MPLS label"),
        f("valid", 31, 1, Rw, 0, "Entry takes part in lookups"),
    ],
);
/// Label address.
pub const LABEL_ADDR: Register = reg(
    "LABEL_ADDR",
    0x15C,
    "label",
    "Label window: top-label IPv4 address",
    &[f(
        "ipv4",
        0,
        32,
        Rw,
        0,
        "IPv4 address, network order as a number",
    )],
);

/// Per-profile control.
pub const PROF_CTRL: Register = Register {
    name: "PROF_CTRL",
    offset: PROFILE_BASE,
    count: NUM_PROFILES,
    stride: PROFILE_STRIDE,
    block: "profile",
    doc: "Profile enable and aggregation mode",
    fields: &[
        f(
            "enable",
            0,
            1,
            Rw,
            0,
            "Merge aged original flows into this profile",
        ),
        f(
            "mode",
            8,
            4,
            Rw,
            0,
            "Aggregation mode index 0..13 (documentation only to the datapath)",
        ),
    ],
};
/// Per-profile field select.
pub const PROF_FIELDS: Register = Register {
    name: "PROF_FIELDS",
    offset: PROFILE_BASE + 0x04,
    count: NUM_PROFILES,
    stride: PROFILE_STRIDE,
    block: "profile",
    doc: "Field-select mask of the aggregation key",
    fields: &[f(
        "select",
        0,
        20,
        Rw,
        0,
        "Bit per key field (see key layout); bit 19 = prefix masking",
    )],
};
/// Per-profile prefix minima.
pub const PROF_PREFIX_MIN: Register = Register {
    name: "PROF_PREFIX_MIN",
    offset: PROFILE_BASE + 0x08,
    count: NUM_PROFILES,
    stride: PROFILE_STRIDE,
    block: "profile",
    doc: "Minimum prefix lengths (mask ... minimum)",
    fields: &[
        f("src", 0, 8, Rw, 0, "Source minimum 0..128"),
        f("dst", 8, 8, Rw, 0, "Destination minimum 0..128"),
    ],
};
/// Per-profile active timeout.
pub const PROF_ACTIVE: Register = Register {
    name: "PROF_ACTIVE",
    offset: PROFILE_BASE + 0x0C,
    count: NUM_PROFILES,
    stride: PROFILE_STRIDE,
    block: "profile",
    doc: "Aggregate active timeout",
    fields: &[f(
        "seconds",
        0,
        16,
        Rw,
        1800,
        "Seconds (default 30 min; 0 ends every entry at its next check)",
    )],
};
/// Per-profile inactive timeout.
pub const PROF_INACTIVE: Register = Register {
    name: "PROF_INACTIVE",
    offset: PROFILE_BASE + 0x10,
    count: NUM_PROFILES,
    stride: PROFILE_STRIDE,
    block: "profile",
    doc: "Aggregate inactive timeout",
    fields: &[f(
        "seconds",
        0,
        16,
        Rw,
        300,
        "Seconds (default 300 s; 0 ends every entry at its next check)",
    )],
};
/// Per-profile occupancy.
pub const PROF_OCCUPANCY: Register = Register {
    name: "PROF_OCCUPANCY",
    offset: PROFILE_BASE + 0x14,
    count: NUM_PROFILES,
    stride: PROFILE_STRIDE,
    block: "profile",
    doc: "Entries in use in the profile's table",
    fields: &[f("entries", 0, 32, Ro, 0, "Entries")],
};

/// The global 64-bit statistics, in order from [`STATS_BASE`] (8 bytes each).
pub const GLOBAL_STATS: [(&str, &str); 24] = [
    ("rx_frames", "Frames offered to the parser"),
    ("ipv6_packets", "IPv6 packets keyed"),
    (
        "ipv6_bytes",
        "Bytes (IPv6 header + payload) of keyed IPv6 packets",
    ),
    ("ipv4_packets", "IPv4 packets (counted, not aggregated)"),
    ("ipv4_bytes", "IPv4 Total Length of those"),
    ("other_frames", "Frames without IP, or with no link adapter"),
    (
        "err_truncated_l2",
        "Parse error: truncated link-layer header",
    ),
    (
        "err_too_many_vlan_tags",
        "Parse error: more than two VLAN tags",
    ),
    (
        "err_bad_mpls_stack",
        "Parse error: MPLS stack truncated or too deep",
    ),
    (
        "err_bad_ip_version",
        "Parse error: IPv6 ethertype, other IP version",
    ),
    ("err_truncated_ipv6", "Parse error: truncated IPv6 header"),
    (
        "err_bad_extension_chain",
        "Parse error: IPv6 extension chain truncated or too long",
    ),
    ("err_truncated_l4", "Parse error: truncated L4 header"),
    (
        "err_ipv6_bytes",
        "Bytes of IPv6 packets rejected by the parser (ignored octets)",
    ),
    ("orig_created", "Original flows created"),
    (
        "orig_evicted",
        "Original flows evicted for room (lack of resources)",
    ),
    ("orig_aged_idle", "Original flows aged: inactive"),
    ("orig_aged_active", "Original flows aged: active"),
    (
        "orig_aged_end",
        "Original flows aged: FIN/RST or counter overflow",
    ),
    ("orig_aged_forced", "Original flows aged: flush"),
    ("records_written", "Records written to the ring"),
    (
        "stall_ring_full",
        "Cycles the record FIFO waited for ring space",
    ),
    (
        "stall_ingress",
        "Cycles a packet waited at ingress (pipeline busy)",
    ),
    ("stall_table", "Cycles lost to table bandwidth or hazards"),
];

/// The per-profile 64-bit statistics, in order from [`PROFILE_STATS_OFFSET`].
pub const PROFILE_STATS: [(&str, &str); 10] = [
    ("records", "Records this profile exported"),
    ("created", "Aggregates created"),
    ("evicted", "Aggregates evicted for room (lack of resources)"),
    ("merged_flows", "Original flows merged"),
    ("merged_packets", "Packets of merged original flows"),
    ("merged_bytes", "Bytes of merged original flows"),
    (
        "drop_records",
        "Records dropped (ring full beyond holding, or not written in the error state)",
    ),
    ("drop_flows", "Original flows in dropped records"),
    ("drop_packets", "Packets in dropped records"),
    ("drop_bytes", "Bytes in dropped records"),
];

/// Offset of global statistic `i` (LO half; HI at +4).
pub const fn global_stat(i: usize) -> u32 {
    STATS_BASE + 8 * i as u32
}

/// Offset of statistic `i` of profile `p` (LO half; HI at +4).
pub const fn profile_stat(p: u32, i: usize) -> u32 {
    PROFILE_BASE + p * PROFILE_STRIDE + PROFILE_STATS_OFFSET + 8 * i as u32
}

/// Index of a global statistic by name.
pub fn global_stat_index(name: &str) -> Option<usize> {
    GLOBAL_STATS.iter().position(|(n, _)| *n == name)
}

/// Index of a profile statistic by name.
pub fn profile_stat_index(name: &str) -> Option<usize> {
    PROFILE_STATS.iter().position(|(n, _)| *n == name)
}

/// Every control register of the map, by increasing offset (statistics are listed by
/// [`all_registers`], which expands them).
pub const REGISTERS: &[Register] = &[
    ID_MAGIC,
    ID_VERSION,
    CAP_PROFILES,
    CAP_ORIG_TABLE,
    CAP_AGG_TABLE,
    CAP_CLOCK,
    CAP_TABLES,
    CTRL,
    STATUS,
    FLUSH_COUNT,
    UNKNOWN_ACCESS,
    TIME_LO,
    TIME_HI,
    ORIG_ACTIVE,
    ORIG_INACTIVE,
    ORIG_CTRL,
    SCAN_CTRL,
    INT_STATUS,
    INT_MASK,
    INT_MOD_RECORDS,
    INT_MOD_TIME,
    RING_BASE_LO,
    RING_BASE_HI,
    RING_SIZE,
    RING_WB_LO,
    RING_WB_HI,
    RING_PROD,
    RING_CONS,
    ROUTE_INDEX,
    ROUTE_CMD,
    ROUTE_PREFIX,
    ROUTE_NEXTHOP,
    ROUTE_META,
    ROUTE_AS,
    ROUTE_OUTIF,
    IFACE_INDEX,
    IFACE_CMD,
    IFACE_IFINDEX,
    LABEL_INDEX,
    LABEL_CMD,
    LABEL_VALUE,
    LABEL_ADDR,
    PROF_CTRL,
    PROF_FIELDS,
    PROF_PREFIX_MIN,
    PROF_ACTIVE,
    PROF_INACTIVE,
    PROF_OCCUPANCY,
];

const STAT_FIELDS: &[Field] = &[f("value", 0, 32, Ro, 0, "Half of the latched 64-bit value")];

/// One concrete 32-bit register instance: its offset and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Offset in BAR0.
    pub offset: u32,
    /// Name with the instance index, e.g. `PROF_CTRL[3]` or `STAT_IPV6_PACKETS_LO`.
    pub name: String,
    /// The register definition (fields, access).
    pub reg: Register,
}

impl Instance {
    fn new(offset: u32, name: String, reg: Register) -> Self {
        Self { offset, name, reg }
    }
}

/// Every 32-bit register instance of BAR0, arrays and statistics expanded, by offset.
pub fn all_registers() -> Vec<Instance> {
    let mut v = Vec::new();
    for r in REGISTERS {
        for i in 0..r.count {
            let name = if r.count == 1 {
                r.name.to_owned()
            } else {
                format!("{}[{i}]", r.name)
            };
            v.push(Instance::new(r.at(i), name, *r));
        }
    }
    let stat = |name: String, doc: &'static str, offset: u32| {
        let r = Register {
            name: "STAT",
            offset,
            count: 1,
            stride: 4,
            block: "stats",
            doc,
            fields: STAT_FIELDS,
        };
        Instance::new(offset, name, r)
    };
    for (i, (n, d)) in GLOBAL_STATS.iter().enumerate() {
        v.push(stat(
            format!("STAT_{}_LO", n.to_uppercase()),
            d,
            global_stat(i),
        ));
        v.push(stat(
            format!("STAT_{}_HI", n.to_uppercase()),
            d,
            global_stat(i) + 4,
        ));
    }
    for p in 0..NUM_PROFILES {
        for (i, (n, d)) in PROFILE_STATS.iter().enumerate() {
            v.push(stat(
                format!("PROF_STAT_{}_LO[{p}]", n.to_uppercase()),
                d,
                profile_stat(p, i),
            ));
            v.push(stat(
                format!("PROF_STAT_{}_HI[{p}]", n.to_uppercase()),
                d,
                profile_stat(p, i) + 4,
            ));
        }
    }
    v.sort_by_key(|i| i.offset);
    v
}

bitfield! {
    /// Typed view of [`CTRL`].
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct Ctrl(pub u32);
    impl Debug;
    /// `enable`.
    pub enable, set_enable: 0;
    /// `soft_reset`.
    pub soft_reset, set_soft_reset: 1;
    /// `flush`.
    pub flush, set_flush: 2;
    /// `stats_snapshot`.
    pub stats_snapshot, set_stats_snapshot: 3;
}

bitfield! {
    /// Typed view of [`STATUS`].
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct Status(pub u32);
    impl Debug;
    /// `flush_busy`.
    pub flush_busy, set_flush_busy: 0;
    /// `error`.
    pub error, set_error: 1;
    /// `ring_full`.
    pub ring_full, set_ring_full: 2;
    /// `error_code`.
    pub u8, error_code, set_error_code: 15, 8;
}

bitfield! {
    /// Typed view of [`INT_STATUS`] and [`INT_MASK`].
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct IntBits(pub u32);
    impl Debug;
    /// `records`.
    pub records, set_records: 0;
    /// `flush_done`.
    pub flush_done, set_flush_done: 1;
    /// `error`.
    pub error, set_error: 2;
    /// `ring_full`.
    pub ring_full, set_ring_full: 3;
}

bitfield! {
    /// Typed view of [`PROF_CTRL`].
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct ProfCtrl(pub u32);
    impl Debug;
    /// `enable`.
    pub enable, set_enable: 0;
    /// `mode`.
    pub u8, mode, set_mode: 11, 8;
}

bitfield! {
    /// Typed view of [`PROF_PREFIX_MIN`].
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct PrefixMin(pub u32);
    impl Debug;
    /// `src`.
    pub u8, src, set_src: 7, 0;
    /// `dst`.
    pub u8, dst, set_dst: 15, 8;
}

bitfield! {
    /// Typed view of [`ROUTE_META`].
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct RouteMeta(pub u32);
    impl Debug;
    /// `len`.
    pub u8, prefix_len, set_prefix_len: 7, 0;
    /// `valid`.
    pub valid, set_valid: 8;
}

/// Error codes reported in `STATUS.error_code`.
pub mod error_code {
    /// A DMA write would have left the mapped ring or write-back memory.
    pub const DMA_FAULT: u8 = 1;
    /// The ring was enabled with an invalid size or address.
    pub const BAD_RING: u8 = 2;
}

/// Table window commands (`ROUTE_CMD`, `IFACE_CMD`, `LABEL_CMD`).
pub mod window_op {
    /// Write the window registers to the indexed entry.
    pub const WRITE: u32 = 1;
    /// Read the indexed entry into the window registers.
    pub const READ: u32 = 2;
    /// Invalidate every entry (route and label tables).
    pub const CLEAR: u32 = 3;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_do_not_overlap_are_aligned_and_inside_bar0() {
        let all = all_registers();
        for w in all.windows(2) {
            assert!(
                w[0].offset + 4 <= w[1].offset,
                "{} overlaps {}",
                w[0].name,
                w[1].name
            );
        }
        for r in &all {
            assert_eq!(r.offset % 4, 0, "{} unaligned", r.name);
            assert!(r.offset + 4 <= BAR0_SIZE, "{} outside BAR0", r.name);
        }
        // Global statistics end before the tables' windows... and profile blocks do not
        // spill into each other.
        assert!(global_stat(GLOBAL_STATS.len()) <= PROFILE_BASE);
        assert!(PROFILE_STATS_OFFSET + 8 * PROFILE_STATS.len() as u32 <= PROFILE_STRIDE);
    }

    #[test]
    fn fields_do_not_overlap_and_reset_values_fit() {
        for r in REGISTERS {
            let mut seen = 0u32;
            let mut last_lsb = None;
            for fl in r.fields {
                assert!(
                    fl.width >= 1 && u32::from(fl.lsb) + u32::from(fl.width) <= 32,
                    "{}.{}",
                    r.name,
                    fl.name
                );
                assert_eq!(seen & fl.mask(), 0, "{}.{} overlaps", r.name, fl.name);
                seen |= fl.mask();
                let max = if fl.width == 32 {
                    u32::MAX
                } else {
                    (1 << fl.width) - 1
                };
                assert!(
                    fl.reset <= max,
                    "{}.{} reset {} does not fit {} bits",
                    r.name,
                    fl.name,
                    fl.reset,
                    fl.width
                );
                assert!(
                    last_lsb.is_none_or(|l| l < fl.lsb),
                    "{} fields not in lsb order",
                    r.name
                );
                last_lsb = Some(fl.lsb);
                assert!(!fl.doc.is_empty() && !fl.name.is_empty());
                assert!(
                    !(fl.access == Access::Wo && fl.reset != 0),
                    "WO fields read 0"
                );
            }
            assert_eq!(r.defined_mask(), seen);
            // Reserved bits are documented as such: everything else is a field.
            assert_eq!(r.reset() & !r.defined_mask(), 0);
            assert!(!r.doc.is_empty());
        }
    }

    #[test]
    fn names_are_unique() {
        let all = all_registers();
        let mut names: Vec<_> = all.iter().map(|r| r.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }

    /// The bitfield views agree with the table: each accessor sets exactly its field's bits.
    #[test]
    fn typed_views_match_the_table() {
        let m = |r: &Register, n: &str| r.field(n).unwrap().mask();
        let mut c = Ctrl(0);
        c.set_flush(true);
        assert_eq!(c.0, m(&CTRL, "flush"));
        let mut c = Ctrl(0);
        c.set_enable(true);
        c.set_soft_reset(true);
        c.set_stats_snapshot(true);
        assert_eq!(
            c.0,
            m(&CTRL, "enable") | m(&CTRL, "soft_reset") | m(&CTRL, "stats_snapshot")
        );
        let mut s = Status(0);
        s.set_error_code(0xff);
        s.set_flush_busy(true);
        s.set_error(true);
        s.set_ring_full(true);
        assert_eq!(s.0, STATUS.defined_mask());
        let mut i = IntBits(0);
        i.set_records(true);
        i.set_flush_done(true);
        i.set_error(true);
        i.set_ring_full(true);
        assert_eq!(i.0, INT_STATUS.defined_mask());
        assert_eq!(INT_STATUS.defined_mask(), INT_MASK.defined_mask());
        let mut p = ProfCtrl(0);
        p.set_mode(0xf);
        p.set_enable(true);
        assert_eq!(p.0, PROF_CTRL.defined_mask());
        let mut pm = PrefixMin(0);
        pm.set_src(0xff);
        pm.set_dst(0xff);
        assert_eq!(pm.0, PROF_PREFIX_MIN.defined_mask());
        let mut rm = RouteMeta(0);
        rm.set_prefix_len(0xff);
        rm.set_valid(true);
        assert_eq!(rm.0, ROUTE_META.defined_mask());
        assert_eq!(PROF_FIELDS.defined_mask(), crate::FieldSelect::DEFINED.0);
    }

    #[test]
    fn field_get_set() {
        let fl = ID_VERSION.field("major").unwrap();
        assert_eq!(fl.get(0x0001_0002), 1);
        assert_eq!(fl.set(0x0001_0002, 3), 0x0003_0002);
        assert_eq!(ID_VERSION.reset(), 0x0001_0000);
        assert_eq!(CTRL.rw_mask(), 1);
        assert_eq!(CTRL.access_mask(Access::Wo), 0b1110);
    }
}
