//! Fuzz target `vrp_config`: the VRP configuration language and the route file on any
//! UTF-8 text. Neither may panic, error messages included (they point a caret at a
//! column); a configuration that commits must read back from its `display
//! current-configuration` text as the same configuration (display.rs promises it), and
//! its engine configuration and exporter configurations must resolve.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsflow::vrp;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match vrp::parse_config(text) {
        Ok((config, warnings)) => {
            let shown = vrp::render(&config);
            match vrp::parse_config(&shown) {
                Ok((again, _)) => {
                    assert_eq!(again, config, "display reads back differently:\n{shown}")
                }
                Err(e) => {
                    panic!("display text of a committed configuration refused:\n{shown}\n{e}")
                }
            }
            std::hint::black_box((config.engine_config(), config.export_configs(), warnings));
        }
        Err(e) => {
            std::hint::black_box(e.to_string());
        }
    }
    if let Err(e) = vrp::parse_routes(text) {
        std::hint::black_box(e.to_string());
    }
});
