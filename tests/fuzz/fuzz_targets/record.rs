//! Fuzz target `record`: the device record decoder on any bytes. It must never panic,
//! and a record it accepts must encode to bytes that decode to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsflow_rtl::record::Record;

fuzz_target!(|data: &[u8]| {
    match Record::decode(data) {
        Ok(rec) => assert_eq!(Record::decode(&rec.encode()), Ok(rec)),
        Err(e) => {
            std::hint::black_box(e.to_string());
        }
    }
});
