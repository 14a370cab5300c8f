//! `regmap`: prints or writes the register-map artefacts generated from `nsflow-rtl`.
//!
//! `regmap markdown|c-header|json|systemrdl` prints one to standard output;
//! `regmap write DIR` writes all four into DIR (the committed copies live in docs/).

use nsflow_rtl::generate;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["markdown"] => print!("{}", generate::markdown()),
        ["c-header"] => print!("{}", generate::c_header()),
        ["json"] => print!("{}", generate::json()),
        ["systemrdl"] => print!("{}", generate::systemrdl()),
        ["write", dir] => {
            for (name, text) in generate::artefacts() {
                let path = Path::new(dir).join(name);
                if let Err(e) = std::fs::write(&path, text) {
                    eprintln!("regmap: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                println!("wrote {}", path.display());
            }
        }
        _ => {
            eprintln!("usage: regmap markdown|c-header|json|systemrdl\n       regmap write DIR");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
