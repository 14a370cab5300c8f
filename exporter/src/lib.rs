//! NetFlow v9 / IPFIX exporter (see issue 4).
