//! How a test finds a third-party tool: the test runs when the tool is there, skips locally
//! when it is not, and fails loudly under `CI=true`, where .ci/run installs every tool.

use crate::shared::in_ci;
use std::process::Command;

/// Whether `tool` runs (`tool --version`, `-V` or `-h` succeeds).
pub fn tool_present(tool: &str) -> bool {
    ["--version", "-V", "-h"].iter().any(|arg| {
        Command::new(tool)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Returns true when `tool` can be used. When it cannot: under `CI=true` this panics (the
/// test must run there); elsewhere it prints why the test is skipped and returns false, so
/// the caller returns early.
pub fn require_tool(tool: &str) -> bool {
    require(
        tool_present(tool),
        tool,
        "not installed",
        "apt-get install it in .ci/run",
    )
}

/// The policy behind every `require_*`: true when `present`; otherwise a panic under
/// `CI=true` (saying how .ci/run provides `what`), elsewhere a `SKIPPED:` line and false.
pub fn require(present: bool, what: &str, missing: &str, in_ci_run: &str) -> bool {
    if present {
        return true;
    }
    assert!(
        !in_ci(),
        "{what} is required under CI=true but is {missing} ({in_ci_run})"
    );
    eprintln!("SKIPPED: {what} {missing}; this test runs under CI=true");
    false
}
