//! Fuzz target `parser`: the line-rate packet parser on any frame behind any link adapter
//! (the first input byte picks it, see `nsflow_fuzz::frame`). It must return a result,
//! never panic, whatever the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsflow_fuzz::frame;
use nsflow_rtl::parser::{parse, Parsed};

fuzz_target!(|data: &[u8]| {
    let Some((link, bytes)) = frame::split(data) else {
        return;
    };
    match parse(link, bytes) {
        Ok(Parsed::Ipv6(fields)) => {
            std::hint::black_box(fields.key_fields());
        }
        Ok(_) => {}
        Err(e) => {
            std::hint::black_box(e.to_string());
        }
    }
});
