//! Host driver for the nsflow flow-table engine (see issue 5).
