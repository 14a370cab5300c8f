//! Fuzz target `flow_decoder`: the NetFlow v9 / IPFIX decoder on a sequence of messages
//! from two exporters (see `nsflow_fuzz::messages`), so that templates learnt from one
//! message decode the data of the next. It must never panic, and every decoded message
//! must yield its flows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsflow_exporter::Decoder;
use nsflow_fuzz::messages;

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new();
    for (exporter, msg) in messages::split(data) {
        match decoder.decode(exporter, msg) {
            Ok(decoded) => {
                let counts = (decoded.data_records(), decoded.template_records());
                std::hint::black_box((decoded.flows(), counts));
            }
            Err(e) => {
                std::hint::black_box(e.to_string());
            }
        }
    }
});
