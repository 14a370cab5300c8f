//! Cycle-level model of the nsflow flow-table engine (see issue 3).
