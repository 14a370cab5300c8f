#!/usr/bin/env bash
# CI fuzz smoke (issue 7): runs every nsflow fuzz target briefly from its committed seed
# corpus. Skips, saying so, when cargo-fuzz is not installed; fails when a target cannot
# be built or finds a crash (the crashing input is in tests/fuzz/artifacts/TARGET/).
#
#   tests/fuzz/ci-smoke.sh            # 30 s per target
#   FUZZ_SECONDS=5 tests/fuzz/ci-smoke.sh
#
# CI runs it from `cargo test` (tests/fuzz_smoke.rs, 20 s per target), which checks
# the "fuzz smoke TARGET: ok, Done N runs" lines below, so keep their format. .ci/run
# installs cargo-fuzz; without it the test skips locally and fails under CI=true.
#
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer, sancov passes). On a stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them; it is set here and harmless on nightly.
# docs/reliability.md ("Fuzzing") describes the targets and the long runs.
set -euo pipefail

cd "$(dirname "$0")/../.."
seconds="${FUZZ_SECONDS:-30}"
targets=(parser vrp_config flow_decoder record ring device_bus vfio_user_server vfio_user_client)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not available: fuzz smoke skipped (install it with: cargo install cargo-fuzz)"
    exit 0
fi
export RUSTC_BOOTSTRAP=1

echo "fuzz smoke: $(cargo fuzz --version), $(rustc --version), ${seconds} s per target"
if ! cargo fuzz build --fuzz-dir tests/fuzz; then
    echo "fuzz smoke FAILED: the fuzz targets do not build" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=()
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    log="$work/$t.log"
    # New inputs go to the scratch directory; the committed corpus is only read.
    if cargo fuzz run --fuzz-dir tests/fuzz "$t" "$work/$t" "tests/fuzz/corpus/$t" -- \
        -max_total_time="$seconds" >"$log" 2>&1; then
        echo "fuzz smoke $t: ok, $(grep -Eo 'Done [0-9]+ runs' "$log" | tail -1)"
    else
        echo "fuzz smoke $t: FAILED" >&2
        tail -n 40 "$log" >&2
        failed+=("$t")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz smoke FAILED: ${failed[*]} (inputs in tests/fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz smoke passed: ${targets[*]}"
