//! `regcheck` against the in-process model: the model must pass the suite generated from
//! the register map.

use nsflow_driver::backend::sim::SimBackend;
use nsflow_driver::regcheck;

#[test]
fn the_model_passes_regcheck() {
    let mut dev = SimBackend::default_build().unwrap();
    let report = regcheck::run(&mut dev).unwrap();
    eprintln!("{}", report.render(false));
    assert!(
        report.results.len() > 1000,
        "{} checks",
        report.results.len()
    );
    assert!(
        report.passed(),
        "regcheck failed:\n{}",
        report.render(false)
    );
}
