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

/// What an access to a field does beyond storing or returning a value: the side effects
/// a register block must implement (the SystemRDL properties that say so in brackets;
/// [`crate::generate`] writes them into docs/nsflow.rdl and docs/regmap.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// None: an RW field stores what software writes, an RO field shows hardware state
    /// [hw=r / hw=w].
    None,
    /// A constant of the hardware build: nothing changes it [hw=na, value = reset].
    Constant,
    /// Set by hardware, kept until software writes 1 (an interrupt cause) [hw=w, intr,
    /// stickybit, onwrite=woclr].
    Sticky,
    /// A write of 1 starts an action once; the field reads 0 [singlepulse].
    Pulse,
    /// Every write acts: a command, a doorbell, a reconfiguration [swmod].
    WriteStrobe,
    /// Every read acts (latches other state) [swacc].
    ReadStrobe,
}

impl Effect {
    /// The token used in the documentation (empty for [`Effect::None`]).
    pub const fn token(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Constant => "constant",
            Self::Sticky => "sticky",
            Self::Pulse => "pulse",
            Self::WriteStrobe => "write strobe",
            Self::ReadStrobe => "read strobe",
        }
    }
}

/// A named value of a field (an enumeration: error codes, window commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedValue {
    /// Name (upper case).
    pub name: &'static str,
    /// Value.
    pub value: u32,
    /// One-line description.
    pub doc: &'static str,
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
    /// Side effect of an access.
    pub effect: Effect,
    /// The field's named values (empty when its values are plain numbers).
    pub values: &'static [NamedValue],
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

    /// This field with side effect `effect` (a row of the table).
    pub const fn with(self, effect: Effect) -> Self {
        Self { effect, ..self }
    }

    /// This field with named values `values` (a row of the table).
    const fn named(self, values: &'static [NamedValue]) -> Self {
        Self { values, ..self }
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
}

/// A field of the table below; its name is the row's identifier.
const fn f(lsb: u8, width: u8, access: Access, reset: u32, doc: &'static str) -> Field {
    Field {
        name: "",
        lsb,
        width,
        access,
        reset,
        build_param: false,
        effect: Effect::None,
        values: &[],
        doc,
    }
}

/// A read-only field whose value is a build parameter (a capability): a constant of the
/// build.
const fn build(lsb: u8, width: u8, reset: u32, doc: &'static str) -> Field {
    Field {
        build_param: true,
        ..f(lsb, width, Access::Ro, reset, doc).with(Effect::Constant)
    }
}

/// Defines the register map from one table: a row per register, `NAME(offset, count,
/// stride, block, description)` followed by its fields `name: f(lsb, width, access, reset,
/// description)` (or `build(..)` for a capability), with `.with(effect)` for a side effect
/// and `.named(values)` for named values. Generates the [`Register`] constants,
/// [`REGISTERS`] in table order, and the typed field accessors of [`field`].
macro_rules! register_map {
    ($(
        $(#[$attr:meta])*
        $name:ident($offset:expr, $count:expr, $stride:expr, $block:literal, $doc:literal) {
            $($field:ident: $def:expr,)*
        }
    )*) => {
        $(
            $(#[$attr])*
            pub const $name: Register = Register {
                name: stringify!($name),
                offset: $offset,
                count: $count,
                stride: $stride,
                block: $block,
                doc: $doc,
                fields: &[$(Field { name: stringify!($field), ..$def }),*],
            };
        )*

        /// Every control register of the map, by increasing offset (statistics are listed
        /// by [`all_registers`], which expands them).
        pub const REGISTERS: &[Register] = &[$($name),*];

        /// Typed field accessors, generated from the same table: `field::CTRL::enable` is
        /// the `enable` field of [`CTRL`], so code names fields at compile time instead of
        /// looking them up by string.
        pub mod field {
            $(
                #[doc = concat!("The fields of `", stringify!($name), "`.")]
                #[allow(non_snake_case)]
                pub mod $name {
                    #[allow(unused_imports)]
                    use super::super::*;
                    $(
                        #[doc = concat!("`", stringify!($name), ".", stringify!($field), "`.")]
                        #[allow(non_upper_case_globals)]
                        pub const $field: Field = Field { name: stringify!($field), ..$def };
                    )*
                }
            )*
        }
    };
}

/// Defines a block of 64-bit statistics from one table: a row per statistic,
/// `Variant = "name": "description"`. Generates the enum; its discriminant is the index in
/// the block.
macro_rules! statistics {
    ($(#[$attr:meta])* $enum:ident {
        $($variant:ident = $name:literal: $doc:literal,)*
    }) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $enum {
            $(#[doc = $doc] $variant,)*
        }

        impl $enum {
            /// Every statistic of the block, in register order.
            pub const ALL: &'static [$enum] = &[$($enum::$variant),*];

            /// Its index in the block (8 bytes each).
            pub const fn index(self) -> usize {
                self as usize
            }

            /// Its name in the register map (lower case).
            pub const fn name(self) -> &'static str {
                match self {
                    $($enum::$variant => $name,)*
                }
            }

            /// Its one-line description.
            pub const fn doc(self) -> &'static str {
                match self {
                    $($enum::$variant => $doc,)*
                }
            }
        }
    };
}

/// Size of BAR0 in bytes.
pub const BAR0_SIZE: u32 = 0x2000;
/// Value of `ID_MAGIC`: "NSFL".
pub const MAGIC: u32 = 0x4E53_464C;
/// Major version of this register map; a driver refuses other majors.
pub const VERSION_MAJOR: u32 = 1;
/// Minor version (backwards-compatible additions).
pub const VERSION_MINOR: u32 = 1;
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
/// MSI-X vectors the function implements (the capability's table size). Vector 0 carries
/// every `INT_STATUS` cause.
pub const MSIX_VECTORS: u16 = 1;
/// The BAR holding the MSI-X vector table and pending-bit array (their BIR): a BAR of its
/// own, so that BAR0's registers never share a page with them.
pub const MSIX_BAR: u8 = 4;
/// Size of [`MSIX_BAR`] in bytes (a 32-bit memory BAR).
pub const MSIX_BAR_SIZE: u32 = 0x1000;
/// Offset of the MSI-X vector table in [`MSIX_BAR`] (16 bytes per vector).
pub const MSIX_TABLE_OFFSET: u32 = 0x000;
/// Offset of the MSI-X pending-bit array in [`MSIX_BAR`] (8 bytes per 64 vectors).
pub const MSIX_PBA_OFFSET: u32 = 0x800;

use Access::{Ro, Rw, W1c, Wo};
use Effect::{Constant, Pulse, ReadStrobe, Sticky, WriteStrobe};

register_map! {
    /// Identification: "NSFL".
    ID_MAGIC(0x000, 1, 4, "id", "Magic number identifying an nsflow engine") {
        magic: f(0, 32, Ro, MAGIC, "0x4E53464C (\"NSFL\")").with(Constant),
    }
    /// Register-map version.
    ID_VERSION(0x004, 1, 4, "id", "Register-map version") {
        minor: f(0, 16, Ro, VERSION_MINOR, "Minor version: compatible additions").with(Constant),
        major: f(16, 16, Ro, VERSION_MAJOR, "Major version: a driver refuses other majors").with(Constant),
    }
    /// Profile and record capabilities.
    CAP_PROFILES(0x008, 1, 4, "id", "Profile, record and ring capabilities") {
        profiles: build(0, 8, NUM_PROFILES, "Aggregation profiles implemented"),
        record_bytes: build(8, 8, crate::record::RECORD_BYTES as u32, "Size of a ring record in bytes"),
        record_format: build(16, 8, crate::record::RECORD_FORMAT_VERSION as u32, "Ring record format version"),
        ring_max_log2: build(24, 5, RING_MAX_LOG2, "Largest ring, log2 of entries"),
    }
    /// Original-flow table geometry.
    CAP_ORIG_TABLE(0x00C, 1, 4, "id", "Original-flow (stage 1) table geometry") {
        sets_log2: build(0, 8, 17, "Sets, log2"),
        ways: build(8, 8, 8, "Ways per set"),
    }
    /// Aggregation table geometry.
    CAP_AGG_TABLE(0x010, 1, 4, "id", "Aggregation (stage 2) table geometry, per profile") {
        sets_log2: build(0, 8, 16, "Sets, log2"),
        ways: build(8, 8, 8, "Ways per set"),
    }
    /// Core clock.
    CAP_CLOCK(0x014, 1, 4, "id", "Core clock frequency") {
        khz: build(0, 32, 250_000, "Core clock in kHz"),
    }
    /// Lookup table sizes.
    CAP_TABLES(0x018, 1, 4, "id", "Lookup table sizes") {
        route_entries: build(0, 16, crate::tables::ROUTE_ENTRIES as u32, "Route table entries"),
        label_entries: build(16, 16, crate::tables::LABEL_ENTRIES as u32, "Label table entries"),
    }
    /// DMA capabilities.
    CAP_DMA(0x01C, 1, 4, "id", "DMA capabilities") {
        addr_bits: build(0, 7, 64, "Address bits the engine's DMA drives: every IOVA given to it must fit"),
    }
    /// Global control.
    CTRL(0x020, 1, 4, "control", "Global control") {
        enable: f(0, 1, Rw, 0, "Accept packets; 0 drops nothing already in the tables"),
        soft_reset: f(1, 1, Wo, 0, "Write 1: reset every register, table and counter").with(Pulse),
        flush: f(2, 1, Wo, 0, "Write 1: export every entry of both stages (reason forced)").with(Pulse),
        stats_snapshot: f(3, 1, Wo, 0, "Write 1: latch every 64-bit statistic for reading").with(Pulse),
    }
    /// Global status.
    STATUS(0x024, 1, 4, "control", "Global status") {
        flush_busy: f(0, 1, Ro, 0, "A flush is running"),
        error: f(1, 1, Ro, 0, "The device stopped on an error; soft reset clears it"),
        ring_full: f(2, 1, Ro, 0, "The ring holds 2^log2 unconsumed records (producer - consumer = entries)"),
        error_code: f(8, 8, Ro, 0, "Why the device stopped (0 while no error)").named(error_code::VALUES),
    }
    /// Completed flushes.
    FLUSH_COUNT(0x028, 1, 4, "control", "Flushes completed since reset") {
        count: f(0, 32, Ro, 0, "Increments when a flush's last record is in the ring"),
    }
    /// Ignored accesses.
    UNKNOWN_ACCESS(0x02C, 1, 4, "control", "Writes ignored: unknown offsets, read-only registers, reserved bits") {
        count: f(0, 32, Ro, 0, "Saturating count"),
    }
    /// Time, low half.
    TIME_LO(0x030, 1, 4, "time", "Free-running nanosecond clock, low half; reading latches TIME_HI") {
        ns: f(0, 32, Ro, 0, "Bits 31:0 of the clock; a read latches bits 63:32 into TIME_HI").with(ReadStrobe),
    }
    /// Time, high half.
    TIME_HI(0x034, 1, 4, "time", "Nanosecond clock, high half as latched by the last TIME_LO read") {
        ns: f(0, 32, Ro, 0, "Bits 63:32 of the clock"),
    }
    /// Original-flow active timeout.
    ORIG_ACTIVE(0x040, 1, 4, "original", "Original-flow active timeout") {
        seconds: f(0, 16, Rw, 1800, "Seconds (VRP: ipv6 netstream timeout active, default 30 min; 0 ends every entry at its next check)"),
    }
    /// Original-flow inactive timeout.
    ORIG_INACTIVE(0x044, 1, 4, "original", "Original-flow inactive timeout") {
        seconds: f(0, 16, Rw, 30, "Seconds (VRP: ipv6 netstream timeout inactive, default 30 s; 0 ends every entry at its next check)"),
    }
    /// Original-flow control.
    ORIG_CTRL(0x048, 1, 4, "original", "Original-flow aging control") {
        fin_rst_aging: f(0, 1, Rw, 1, "Age a flow on TCP FIN or RST unless it is its first packet"),
    }
    /// Aging scanner control.
    SCAN_CTRL(0x04C, 1, 4, "original", "Aging scanner share of table bandwidth") {
        share: f(0, 8, Rw, 32, "Table slots per 256 cycles given to the scanner (1-255; 0 stops aging)"),
    }
    /// Interrupt status.
    INT_STATUS(0x050, 1, 4, "interrupt", "Interrupt causes, write 1 to clear") {
        records: f(0, 1, W1c, 0, "Records were written (after moderation)").with(Sticky),
        flush_done: f(1, 1, W1c, 0, "A flush completed").with(Sticky),
        error: f(2, 1, W1c, 0, "The device entered the error state").with(Sticky),
        ring_full: f(3, 1, W1c, 0, "The ring became full").with(Sticky),
    }
    /// Interrupt mask.
    INT_MASK(0x054, 1, 4, "interrupt", "Interrupt mask: 1 masks the cause") {
        records: f(0, 1, Rw, 1, "Mask records"),
        flush_done: f(1, 1, Rw, 1, "Mask flush_done"),
        error: f(2, 1, Rw, 1, "Mask error"),
        ring_full: f(3, 1, Rw, 1, "Mask ring_full"),
    }
    /// Moderation by count.
    INT_MOD_RECORDS(0x058, 1, 4, "interrupt", "Interrupt moderation by count") {
        count: f(0, 16, Rw, 64, "Raise after this many records (0 = every record)"),
    }
    /// Moderation by time.
    INT_MOD_TIME(0x05C, 1, 4, "interrupt", "Interrupt moderation by time") {
        usec: f(0, 16, Rw, 50, "Raise at most this long after the first pending record (0 = at once)"),
    }
    /// Ring base, low.
    RING_BASE_LO(0x060, 1, 4, "ring", "Record ring IOVA, low half (4 KiB aligned)") {
        addr: f(12, 20, Rw, 0, "IOVA bits 31:12"),
    }
    /// Ring base, high.
    RING_BASE_HI(0x064, 1, 4, "ring", "Record ring IOVA, high half") {
        addr: f(0, 32, Rw, 0, "IOVA bits 63:32"),
    }
    /// Ring size.
    RING_SIZE(0x068, 1, 4, "ring", "Record ring size; writing resets both indices") {
        log2: f(0, 5, Rw, 0, "Entries = 2^log2, 4..20; 0 = no ring; a write resets RING_PROD and RING_CONS to 0").with(WriteStrobe),
    }
    /// Write-back address, low.
    RING_WB_LO(0x06C, 1, 4, "ring", "Producer-index write-back IOVA, low half (8-byte aligned): the device writes the 32-bit producer index there as 8 bytes LE, zero-extended; 0 = no write-back") {
        addr: f(3, 29, Rw, 0, "IOVA bits 31:3"),
    }
    /// Write-back address, high.
    RING_WB_HI(0x070, 1, 4, "ring", "Producer-index write-back IOVA, high half") {
        addr: f(0, 32, Rw, 0, "IOVA bits 63:32"),
    }
    /// Producer index.
    RING_PROD(0x074, 1, 4, "ring", "Producer index (free-running; also written back to host memory)") {
        index: f(0, 32, Ro, 0, "Records written since the ring was configured"),
    }
    /// Consumer index.
    RING_CONS(0x078, 1, 4, "ring", "Consumer index doorbell (free-running)") {
        index: f(0, 32, Rw, 0, "Records the driver has consumed; a write frees ring space (doorbell)").with(WriteStrobe),
    }
    /// Route window index.
    ROUTE_INDEX(0x100, 1, 4, "route", "Route table window: entry index") {
        index: f(0, 10, Rw, 0, "Entry 0..1023"),
    }
    /// Route window command.
    ROUTE_CMD(0x104, 1, 4, "route", "Route table window: command") {
        op: f(0, 2, Wo, 0, "Command, executed on the write").with(WriteStrobe).named(window_op::VALUES),
    }
    /// Route prefix words.
    ROUTE_PREFIX(0x110, 4, 4, "route", "Route window: prefix, word 0 = bits 127:96") {
        bits: f(0, 32, Rw, 0, "Prefix bits, network order by word"),
    }
    /// Route next-hop words.
    ROUTE_NEXTHOP(0x120, 4, 4, "route", "Route window: BGP next hop, word 0 = bits 127:96") {
        bits: f(0, 32, Rw, 0, "Next-hop bits, network order by word"),
    }
    /// Route metadata.
    ROUTE_META(0x130, 1, 4, "route", "Route window: length and valid") {
        len: f(0, 8, Rw, 0, "Prefix length 0..128 (an entry written with more holds 128)"),
        valid: f(8, 1, Rw, 0, "Entry takes part in lookups"),
    }
    /// Route AS.
    ROUTE_AS(0x134, 1, 4, "route", "Route window: origin AS") {
        asn: f(0, 32, Rw, 0, "Origin AS"),
    }
    /// Route egress interface.
    ROUTE_OUTIF(0x138, 1, 4, "route", "Route window: egress ifIndex") {
        ifindex: f(0, 32, Rw, 0, "Egress ifIndex"),
    }
    /// Interface window index.
    IFACE_INDEX(0x140, 1, 4, "iface", "Interface table window: outer VLAN ID (0 = untagged)") {
        vlan: f(0, 12, Rw, 0, "VLAN ID"),
    }
    /// Interface window command.
    IFACE_CMD(0x144, 1, 4, "iface", "Interface table window: command") {
        op: f(0, 2, Wo, 0, "Command, executed on the write (CLEAR is ignored: the table has no valid bits)").with(WriteStrobe).named(window_op::VALUES),
    }
    /// Interface window data.
    IFACE_IFINDEX(0x148, 1, 4, "iface", "Interface table window: ingress ifIndex") {
        ifindex: f(0, 32, Rw, 0, "Ingress ifIndex"),
    }
    /// Label window index.
    LABEL_INDEX(0x150, 1, 4, "label", "Label table window: entry index") {
        index: f(0, 6, Rw, 0, "Entry 0..63"),
    }
    /// Label window command.
    LABEL_CMD(0x154, 1, 4, "label", "Label table window: command") {
        op: f(0, 2, Wo, 0, "Command, executed on the write").with(WriteStrobe).named(window_op::VALUES),
    }
    /// Label value.
    LABEL_VALUE(0x158, 1, 4, "label", "Label window: label and valid") {
        label: f(0, 20, Rw, 0, "MPLS label"),
        valid: f(31, 1, Rw, 0, "Entry takes part in lookups"),
    }
    /// Label address.
    LABEL_ADDR(0x15C, 1, 4, "label", "Label window: top-label IPv4 address") {
        ipv4: f(0, 32, Rw, 0, "IPv4 address, network order as a number"),
    }
    /// Per-profile control.
    PROF_CTRL(PROFILE_BASE, NUM_PROFILES, PROFILE_STRIDE, "profile", "Profile enable and aggregation mode") {
        enable: f(0, 1, Rw, 0, "Merge aged original flows into this profile"),
        mode: f(8, 4, Rw, 0, "Aggregation mode index 0..13 (documentation only to the datapath)"),
    }
    /// Per-profile field select.
    PROF_FIELDS(PROFILE_BASE + 0x04, NUM_PROFILES, PROFILE_STRIDE, "profile", "Field-select mask of the aggregation key") {
        select: f(0, 20, Rw, 0, "Bit per key field (see key layout); bit 19 = prefix masking"),
    }
    /// Per-profile prefix minima.
    PROF_PREFIX_MIN(PROFILE_BASE + 0x08, NUM_PROFILES, PROFILE_STRIDE, "profile", "Minimum prefix lengths (mask ... minimum)") {
        src: f(0, 8, Rw, 0, "Source minimum 0..128"),
        dst: f(8, 8, Rw, 0, "Destination minimum 0..128"),
    }
    /// Per-profile active timeout.
    PROF_ACTIVE(PROFILE_BASE + 0x0C, NUM_PROFILES, PROFILE_STRIDE, "profile", "Aggregate active timeout") {
        seconds: f(0, 16, Rw, 1800, "Seconds (default 30 min; 0 ends every entry at its next check)"),
    }
    /// Per-profile inactive timeout.
    PROF_INACTIVE(PROFILE_BASE + 0x10, NUM_PROFILES, PROFILE_STRIDE, "profile", "Aggregate inactive timeout") {
        seconds: f(0, 16, Rw, 300, "Seconds (default 300 s; 0 ends every entry at its next check)"),
    }
    /// Per-profile occupancy.
    PROF_OCCUPANCY(PROFILE_BASE + 0x14, NUM_PROFILES, PROFILE_STRIDE, "profile", "Entries in use in the profile's table") {
        entries: f(0, 32, Ro, 0, "Entries"),
    }
}

statistics! {
    /// The global 64-bit statistics, in order from [`STATS_BASE`] (8 bytes each).
    GlobalStat {
        RxFrames = "rx_frames": "Frames offered to the parser",
        Ipv6Packets = "ipv6_packets": "IPv6 packets keyed",
        Ipv6Bytes = "ipv6_bytes": "Bytes (IPv6 header + payload) of keyed IPv6 packets",
        Ipv4Packets = "ipv4_packets": "IPv4 packets (counted, not aggregated)",
        Ipv4Bytes = "ipv4_bytes": "IPv4 Total Length of those",
        OtherFrames = "other_frames": "Frames without IP, or with no link adapter",
        ErrTruncatedL2 = "err_truncated_l2": "Parse error: truncated link-layer header",
        ErrTooManyVlanTags = "err_too_many_vlan_tags": "Parse error: more than two VLAN tags",
        ErrBadMplsStack = "err_bad_mpls_stack": "Parse error: MPLS stack truncated or too deep",
        ErrBadIpVersion = "err_bad_ip_version": "Parse error: IPv6 ethertype, other IP version",
        ErrTruncatedIpv6 = "err_truncated_ipv6": "Parse error: truncated IPv6 header",
        ErrBadExtensionChain = "err_bad_extension_chain": "Parse error: IPv6 extension chain truncated or too long",
        ErrTruncatedL4 = "err_truncated_l4": "Parse error: truncated L4 header",
        ErrIpv6Bytes = "err_ipv6_bytes": "Bytes of IPv6 packets rejected by the parser (ignored octets)",
        OrigCreated = "orig_created": "Original flows created",
        OrigEvicted = "orig_evicted": "Original flows evicted for room (lack of resources)",
        OrigAgedIdle = "orig_aged_idle": "Original flows aged: inactive",
        OrigAgedActive = "orig_aged_active": "Original flows aged: active",
        OrigAgedEnd = "orig_aged_end": "Original flows aged: FIN/RST or counter overflow",
        OrigAgedForced = "orig_aged_forced": "Original flows aged: flush",
        RecordsWritten = "records_written": "Records written to the ring",
        StallRingFull = "stall_ring_full": "Cycles the record FIFO waited for ring space",
        StallIngress = "stall_ingress": "Cycles a packet waited at ingress (pipeline busy)",
        StallTable = "stall_table": "Cycles lost to table bandwidth or hazards",
    }
}

statistics! {
    /// The per-profile 64-bit statistics, in order from [`PROFILE_STATS_OFFSET`] in each
    /// profile block.
    ProfileStat {
        Records = "records": "Records this profile exported",
        Created = "created": "Aggregates created",
        Evicted = "evicted": "Aggregates evicted for room (lack of resources)",
        MergedFlows = "merged_flows": "Original flows merged",
        MergedPackets = "merged_packets": "Packets of merged original flows",
        MergedBytes = "merged_bytes": "Bytes of merged original flows",
        DropRecords = "drop_records": "Records dropped (ring full beyond holding, or not written in the error state)",
        DropFlows = "drop_flows": "Original flows in dropped records",
        DropPackets = "drop_packets": "Packets in dropped records",
        DropBytes = "drop_bytes": "Bytes in dropped records",
    }
}

impl GlobalStat {
    /// The parse-error counters (`err_*` but the ignored-bytes one), in reason order.
    pub fn parse_errors() -> impl Iterator<Item = Self> {
        crate::parser::ParseErrorReason::ALL
            .into_iter()
            .map(Self::parse_error)
    }

    /// The counter of frames rejected for `r` (`err_*`).
    pub const fn parse_error(r: crate::parser::ParseErrorReason) -> Self {
        use crate::parser::ParseErrorReason as R;
        match r {
            R::TruncatedL2 => Self::ErrTruncatedL2,
            R::TooManyVlanTags => Self::ErrTooManyVlanTags,
            R::BadMplsStack => Self::ErrBadMplsStack,
            R::BadIpVersion => Self::ErrBadIpVersion,
            R::TruncatedIpv6 => Self::ErrTruncatedIpv6,
            R::BadExtensionChain => Self::ErrBadExtensionChain,
            R::TruncatedL4 => Self::ErrTruncatedL4,
        }
    }
}

/// Offset of global statistic `s` (LO half; HI at +4).
pub const fn global_stat(s: GlobalStat) -> u32 {
    STATS_BASE + 8 * s.index() as u32
}

/// Offset of statistic `s` of profile `p` (LO half; HI at +4).
pub const fn profile_stat(p: u32, s: ProfileStat) -> u32 {
    PROFILE_BASE + p * PROFILE_STRIDE + PROFILE_STATS_OFFSET + 8 * s.index() as u32
}

/// The one field of a statistic's LO or HI register.
pub const STAT_VALUE: Field = Field {
    name: "value",
    ..f(
        0,
        32,
        Ro,
        0,
        "Half of the 64-bit value latched by CTRL.stats_snapshot",
    )
};

const STAT_FIELDS: &[Field] = &[STAT_VALUE];

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
    for st in GlobalStat::ALL.iter().copied() {
        let (n, d) = (st.name(), st.doc());
        v.push(stat(
            format!("STAT_{}_LO", n.to_uppercase()),
            d,
            global_stat(st),
        ));
        v.push(stat(
            format!("STAT_{}_HI", n.to_uppercase()),
            d,
            global_stat(st) + 4,
        ));
    }
    for p in 0..NUM_PROFILES {
        for st in ProfileStat::ALL.iter().copied() {
            let (n, d) = (st.name(), st.doc());
            v.push(stat(
                format!("PROF_STAT_{}_LO[{p}]", n.to_uppercase()),
                d,
                profile_stat(p, st),
            ));
            v.push(stat(
                format!("PROF_STAT_{}_HI[{p}]", n.to_uppercase()),
                d,
                profile_stat(p, st) + 4,
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

/// Defines a field's named values from one list: `NAME = value: "description"`. Generates
/// a constant per value and `VALUES`, the list for the field row and the artefacts.
macro_rules! named_values {
    ($(#[$attr:meta])* $module:ident: $ty:ty {
        $($name:ident = $value:literal: $doc:literal,)*
    }) => {
        $(#[$attr])*
        pub mod $module {
            use super::NamedValue;
            $(#[doc = $doc] pub const $name: $ty = $value;)*
            /// Every value, in order (the field row's named values).
            pub const VALUES: &[NamedValue] = &[$(NamedValue {
                name: stringify!($name),
                value: $name as u32,
                doc: $doc,
            }),*];
        }
    };
}

named_values! {
    /// Error codes reported in `STATUS.error_code`.
    error_code: u8 {
        DMA_FAULT = 1: "A DMA write would have left the mapped ring or write-back memory",
        BAD_RING = 2: "The ring was enabled with an invalid size or address",
    }
}

named_values! {
    /// Table window commands (`ROUTE_CMD`, `IFACE_CMD`, `LABEL_CMD`).
    window_op: u32 {
        WRITE = 1: "Write the window registers to the indexed entry",
        READ = 2: "Read the indexed entry into the window registers",
        CLEAR = 3: "Invalidate every entry (route and label tables)",
    }
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
        assert!(STATS_BASE + 8 * GlobalStat::ALL.len() as u32 <= PROFILE_BASE);
        assert!(PROFILE_STATS_OFFSET + 8 * ProfileStat::ALL.len() as u32 <= PROFILE_STRIDE);
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

    /// Each side effect sits on the access it belongs to, and named values fit their field.
    #[test]
    fn effects_agree_with_access_and_values_fit() {
        for r in REGISTERS {
            for fl in r.fields {
                let ok = match fl.effect {
                    Effect::None => matches!(fl.access, Ro | Rw),
                    Effect::Constant | Effect::ReadStrobe => fl.access == Ro,
                    Effect::Sticky => fl.access == W1c,
                    Effect::Pulse => fl.access == Wo && fl.width == 1,
                    Effect::WriteStrobe => matches!(fl.access, Rw | Wo),
                };
                assert!(
                    ok,
                    "{}.{}: {:?} on {:?}",
                    r.name, fl.name, fl.effect, fl.access
                );
                assert!(!fl.build_param || fl.effect == Effect::Constant);
                for v in fl.values {
                    assert!(v.value <= fl.mask() >> fl.lsb, "{}.{}", r.name, v.name);
                }
            }
        }
        assert_eq!(field::STATUS::error_code.values, error_code::VALUES);
        assert_eq!(window_op::VALUES[2].value, window_op::CLEAR);
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
        let mut c = Ctrl(0);
        c.set_flush(true);
        assert_eq!(c.0, field::CTRL::flush.mask());
        let mut c = Ctrl(0);
        c.set_enable(true);
        c.set_soft_reset(true);
        c.set_stats_snapshot(true);
        assert_eq!(
            c.0,
            field::CTRL::enable.mask()
                | field::CTRL::soft_reset.mask()
                | field::CTRL::stats_snapshot.mask()
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
        let fl = field::ID_VERSION::major;
        assert_eq!(fl.get(0x0001_0002), 1);
        assert_eq!(fl.set(0x0001_0002, 3), 0x0003_0002);
        assert_eq!(ID_VERSION.reset(), 0x0001_0001);
        assert_eq!(CTRL.rw_mask(), 1);
        assert_eq!(CTRL.access_mask(Access::Wo), 0b1110);
    }
}
