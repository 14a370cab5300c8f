//! The register protocol, as data: what a write starts, when its effect is complete and
//! how the host knows, which multi-word updates are atomic, and how the ring orders what
//! it publishes. Each [`Rule`] names the registers it concerns and, where there is one,
//! its bound in core cycles; [`crate::generate`] writes them into docs/regmap.md and the
//! bounds into the C header, and hwsim's tests/protocol.rs checks the model against each.
//!
//! A bound of `n` cycles means: the effect is complete by the end of cycle `c + n − 1`,
//! where `c` is the cycle the register port takes the write — so the next access, which
//! the port takes at `c + 1` at the earliest, sees it. None of these operations has a busy
//! bit to poll; `CTRL.flush`, which has one, has no fixed bound.

use crate::regs::{self, Register};

/// What a rule guarantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An operation completes within a bound, or signals completion.
    Completion,
    /// A multi-word update is seen whole or not at all.
    Atomicity,
    /// What the host observes happens in a stated order.
    Ordering,
}

impl Kind {
    /// The token used in the documentation.
    pub const fn token(self) -> &'static str {
        match self {
            Self::Completion => "completion",
            Self::Atomicity => "atomicity",
            Self::Ordering => "ordering",
        }
    }
}

/// One rule of the register protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Name (lower case), also the C header's macro stem.
    pub name: &'static str,
    /// What it guarantees.
    pub kind: Kind,
    /// The registers it concerns.
    pub registers: &'static [Register],
    /// Cycles within which the effect is complete (see the module documentation); `None`
    /// when no fixed bound holds.
    pub bound_cycles: Option<u32>,
    /// How the host knows the effect is complete.
    pub completion: &'static str,
    /// The rule.
    pub rule: &'static str,
}

/// BAR0 takes one write per cycle, in issue order.
pub const REGISTER_PORT: Rule = Rule {
    name: "register_port",
    kind: Kind::Ordering,
    registers: &[],
    bound_cycles: Some(1),
    completion: "none needed: a write issued in the cycle of the previous one is taken at the next cycle",
    rule: "BAR0's register port takes one 32-bit write per cycle, in the order the host issued them; a read returns after every write issued before it has taken effect",
};

/// Window commands complete in the cycle of their CMD write.
pub const TABLE_COMMAND: Rule = Rule {
    name: "table_command",
    kind: Kind::Completion,
    registers: &[regs::ROUTE_CMD, regs::IFACE_CMD, regs::LABEL_CMD],
    bound_cycles: Some(1),
    completion: "no busy bit: complete once the CMD write has taken effect",
    rule: "A window command completes in the cycle its CMD write takes effect: WRITE and CLEAR change the table for every frame offered after the write, READ leaves the entry in the window's data registers for the next read",
};

/// A table entry written through its window is applied whole.
pub const TABLE_ENTRY_ATOMIC: Rule = Rule {
    name: "table_entry_atomic",
    kind: Kind::Atomicity,
    registers: &[
        regs::ROUTE_PREFIX,
        regs::ROUTE_NEXTHOP,
        regs::ROUTE_META,
        regs::ROUTE_AS,
        regs::ROUTE_OUTIF,
        regs::IFACE_IFINDEX,
        regs::LABEL_VALUE,
        regs::LABEL_ADDR,
    ],
    bound_cycles: None,
    completion: "the CMD write (WRITE) applies the entry",
    rule: "A window's data registers are a staging copy that lookups never read: a table entry of several words is applied whole, on the CMD write, so a frame is keyed with the entry as it was before the command or as it is after it, never with a mix",
};

/// `CTRL.stats_snapshot` latches every statistic in its cycle.
pub const STATS_SNAPSHOT: Rule = Rule {
    name: "stats_snapshot",
    kind: Kind::Completion,
    registers: &[regs::CTRL],
    bound_cycles: Some(1),
    completion: "no busy bit: the latched values read back from the next access on",
    rule: "CTRL.stats_snapshot latches every 64-bit statistic at once, in the cycle the write takes effect (a consistent set: no counter latched a cycle apart from another); reads return those values until the next snapshot",
};

/// `CTRL.soft_reset` completes in its cycle.
pub const SOFT_RESET: Rule = Rule {
    name: "soft_reset",
    kind: Kind::Completion,
    registers: &[regs::CTRL],
    bound_cycles: Some(1),
    completion: "no busy bit: every register reads its reset value from the next access on",
    rule: "CTRL.soft_reset returns every register to its reset value, and the tables, queues, counters and clock to their reset state, in the cycle the write takes effect; the next write is taken by the reset device, and nothing the device held is written to host memory after it",
};

/// `CTRL.flush` signals its completion.
pub const FLUSH: Rule = Rule {
    name: "flush",
    kind: Kind::Completion,
    registers: &[regs::CTRL, regs::STATUS, regs::FLUSH_COUNT, regs::INT_STATUS],
    bound_cycles: None,
    completion: "STATUS.flush_busy clears, FLUSH_COUNT increments and INT_STATUS.flush_done is raised, in one cycle",
    rule: "STATUS.flush_busy is set from the cycle of the CTRL.flush write until the flush's last record is in the ring; the time depends on the tables' occupancy and on ring space, so the host waits for the completion signals",
};

/// Records land before the producer index that covers them.
pub const DMA_ORDER: Rule = Rule {
    name: "dma_order",
    kind: Kind::Ordering,
    registers: &[regs::RING_PROD, regs::RING_WB_LO, regs::RING_WB_HI],
    bound_cycles: None,
    completion: "the producer index: RING_PROD and its write-back",
    rule: "A DMA batch's records land in the ring before the producer index that covers them: the write-back at RING_WB follows the records in host memory, and RING_PROD and the records interrupt follow the write-back; a host that reads producer index P finds records below P complete",
};

/// Phase bits tell new records from old.
pub const PHASE: Rule = Rule {
    name: "phase",
    kind: Kind::Ordering,
    registers: &[regs::RING_SIZE],
    bound_cycles: None,
    completion: "the record's phase bit (flags bit 0)",
    rule: "Record n (free-running since RING_SIZE was written) goes to slot n mod 2^log2 with phase bit 1 on passes 0, 2, 4… over the ring and 0 on the others ((n >> log2) & 1 == 0): a consumer tells a new record by its phase without reading the producer index",
};

/// A consumer index out of range holds the ring.
pub const CONSUMER_AHEAD: Rule = Rule {
    name: "consumer_ahead",
    kind: Kind::Ordering,
    registers: &[regs::RING_CONS],
    bound_cycles: None,
    completion: "records flow again once RING_CONS is back in range",
    rule: "A consumer index ahead of the producer, or more than a ring behind it, leaves no ring room: the device writes no record and raises no error, and records wait as on a full ring (held; a drop-on-full build drops and counts them) until RING_CONS is written within a ring of the producer",
};

/// Every rule, in the order the documentation lists them.
pub const RULES: &[Rule] = &[
    REGISTER_PORT,
    TABLE_COMMAND,
    TABLE_ENTRY_ATOMIC,
    STATS_SNAPSHOT,
    SOFT_RESET,
    FLUSH,
    DMA_ORDER,
    PHASE,
    CONSUMER_AHEAD,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_identifiers_and_bounds_positive() {
        let mut names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RULES.len());
        for r in RULES {
            assert!(r.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert_ne!(r.bound_cycles, Some(0), "{}", r.name);
        }
    }
}
