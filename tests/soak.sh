#!/usr/bin/env bash
# The nsflow soak (issue 7, item 6): a long synthetic replay through the embedded model
# with four configuration commits mid-run and the in-process collector on 127.0.0.1,
# sampling the process's resident memory while it runs, then checking from the run
# summary that every packet and byte is conserved per mode, from the device to the
# exporter to the collector. Exits 0 when every check passes, 1 on any mismatch, 2 when
# the run could not be made. This is the command that produced the soak figures of
# docs/reliability.md.
#
# Usage (from anywhere; it works in the checkout it belongs to):
#   tests/soak.sh                      # full soak: 50 M packets, 1 M flows (~1 min + the build)
#   SOAK_SECONDS=25 tests/soak.sh      # the half-length soak (memory comparison)
#   SOAK_SCALE=50 tests/soak.sh        # 1 M packets, 20 k flows (about a second + the build)
#
# Variables (defaults = the full soak):
#   SOAK_FLOWS=1000000   generator flows, each picked uniformly per packet
#   SOAK_PPS=1000000     packets per second of traffic time
#   SOAK_SECONDS=50      traffic time, whole seconds; packets = SOAK_PPS * SOAK_SECONDS
#   SOAK_SCALE=1         divides SOAK_FLOWS and SOAK_PPS: fewer packets, the same traffic
#                        time and packets per flow and second (so the same timers fire)
#   SOAK_SEED=7          generator seed
#   SOAK_PORT=           collector port on 127.0.0.1 (default: a free one; 9995 without python3)
#   SOAK_SAMPLE=5        seconds between resident-memory samples
#   SOAK_BIN=            an nsflow binary; default: build the release binary and copy it
#                        to SOAK_OUT (so a rebuild during the run does not replace it)
#   SOAK_OUT=            directory for the summary, samples and time report (default: a
#                        new directory under /tmp, kept)
#   SOAK_SUMMARY=FILE    do not run: check the summary in FILE of a run made with the
#                        same variables (its memory figures are then not known)
#
# Commits (examples/soak/commit-N.cfg at N/5 of the packets): 1 timers + `as` removed,
# `vlan-id` added; 2 export-only (as-tos template refresh, prefix to v9); 3 mask change of
# destination-prefix, `source-prefix` removed, `mpls-label` added; 4 timers, `as` back,
# `vlan-id` removed. So `as`+`vlan-id` and `source-prefix`+`mpls-label` each see the
# whole traffic between them; the eight other modes see all of it.
#
# Checks, all exact:
#   * the run succeeded; every generated frame was offered and keyed as IPv6;
#   * each commit was applied at its frame;
#   * device: per mode, packets in records + packets dropped = the frames offered while
#     the mode was enabled; bytes in records = every keyed byte (whole-run modes) and
#     per complementary pair (the summary has no per-mode byte drops: with drops the
#     byte checks fail and say so);
#   * exporter: per mode, records sent to the collector = records drained, none failed;
#   * collector: per mode, records, flows, packets and bytes received = drained; messages
#     received = messages sent; none undecodable.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

flows_full=${SOAK_FLOWS:-1000000}
pps_full=${SOAK_PPS:-1000000}
seconds=${SOAK_SECONDS:-50}
scale=${SOAK_SCALE:-1}
seed=${SOAK_SEED:-7}
port=${SOAK_PORT:-$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 9995)}
sample=${SOAK_SAMPLE:-5}
out=${SOAK_OUT:-$(mktemp -d /tmp/nsflow-soak.XXXXXX)}
mkdir -p "$out"

die() {
    echo "soak: $*" >&2
    exit 2
}
for v in "$flows_full" "$pps_full" "$seconds" "$scale" "$seed" "$port"; do
    [[ $v =~ ^[0-9]+$ ]] || die "SOAK_* values must be whole numbers (got '$v')"
done
((scale >= 1)) || die "SOAK_SCALE must be at least 1"
flows=$((flows_full / scale))
pps=$((pps_full / scale))
((flows >= 1 && pps >= 1 && seconds >= 1)) || die "nothing to replay at SOAK_SCALE=$scale"
packets=$((pps * seconds))
c1=$((packets / 5))
c2=$((packets * 2 / 5))
c3=$((packets * 3 / 5))
c4=$((packets * 4 / 5))

if [[ -n ${SOAK_SUMMARY:-} ]]; then
    [[ -f $SOAK_SUMMARY ]] || die "no summary at $SOAK_SUMMARY"
    cp "$SOAK_SUMMARY" "$out/summary.txt"
    echo "# seconds vmrss_kb vmhwm_kb" >"$out/rss.txt"
    bin=
    rc=0
    wall=0
elif [[ -n ${SOAK_BIN:-} ]]; then
    bin=$SOAK_BIN
else
    cargo build -q --release -p nsflow --bin nsflow || die "release build failed"
    cp target/release/nsflow "$out/nsflow"
    bin=$out/nsflow
fi
if [[ -z ${SOAK_SUMMARY:-} ]]; then
    [[ -x $bin ]] || die "no nsflow binary at $bin"

    sed "s/^ipv6 netstream export host 127\.0\.0\.1 9995\$/ipv6 netstream export host 127.0.0.1 $port/" \
        examples/soak/soak.cfg >"$out/soak.cfg"
    grep -q "host 127.0.0.1 $port\$" "$out/soak.cfg" || die "examples/soak/soak.cfg has no host line for 127.0.0.1 9995"

    spec="flows=$flows,pps=$pps,seconds=$seconds,seed=$seed"
    cmd=("$bin" run --config "$out/soak.cfg" --generate "$spec" --collect "127.0.0.1:$port" --quiet
        --commit-at "$c1:examples/soak/commit-1.cfg" --commit-at "$c2:examples/soak/commit-2.cfg"
        --commit-at "$c3:examples/soak/commit-3.cfg" --commit-at "$c4:examples/soak/commit-4.cfg")
    echo "soak: $packets packets, $flows flows, 4 commits (frames $c1 $c2 $c3 $c4); output in $out"
    echo "soak: ${cmd[*]}"
    printf '%s\n' "${cmd[*]}" >"$out/command.txt"

    timer=()
    if [[ -x /usr/bin/time ]]; then
        timer=(/usr/bin/time -v -o "$out/time.txt")
    fi
    start=$(date +%s.%N)
    "${timer[@]}" "${cmd[@]}" >"$out/summary.txt" 2>"$out/stderr.txt" &
    launcher=$!

    # The nsflow process: the launcher itself, or /usr/bin/time's child.
    pid=$launcher
    if ((${#timer[@]})); then
        pid=
        for _ in $(seq 100); do
            pid=$(ps -o pid= --ppid "$launcher" | tr -d ' ' | head -n1)
            [[ -n $pid ]] && break
            kill -0 "$launcher" 2>/dev/null || break
            sleep 0.05
        done
    fi

    # Resident memory every $sample s: seconds since start, VmRSS and VmHWM (kB).
    echo "# seconds vmrss_kb vmhwm_kb" >"$out/rss.txt"
    if [[ -n $pid ]]; then
        while kill -0 "$pid" 2>/dev/null; do
            status=$(cat "/proc/$pid/status" 2>/dev/null) || break
            now=$(date +%s.%N)
            awk -v t="$now" -v t0="$start" '
                /^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 }
                END { if (r != "") printf "%.1f %d %d\n", t - t0, r, h }' <<<"$status" >>"$out/rss.txt"
            for _ in $(seq $((sample * 10))); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        done
    fi
    rc=0
    wait "$launcher" || rc=$?
    end=$(date +%s.%N)
    wall=$(awk -v a="$end" -v b="$start" 'BEGIN { printf "%.1f", a - b }')

    if ((rc != 0)); then
        cat "$out/stderr.txt" >&2
        echo "soak: nsflow exited with status $rc (summary: $out/summary.txt)" >&2
        exit 1
    fi

fi

peak_kb=
if [[ -f $out/time.txt ]]; then
    peak_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$out/time.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
        n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$out/time.txt")
fi
[[ -n $peak_kb ]] || peak_kb=$(awk '!/^#/ { if ($3 > m) m = $3 } END { print m + 0 }' "$out/rss.txt")

# Every check; prints one line per failure and the figures, exits 1 on any failure.
awk -v packets="$packets" -v c1="$c1" -v c2="$c2" -v c3="$c3" -v c4="$c4" \
    -v wall="$wall" -v peak="$peak_kb" -v flows="$flows" -v rssfile="$out/rss.txt" '
# Numbers as exact integers in messages (mawk prints large ones as %.6g otherwise).
BEGIN { CONVFMT = "%.17g"; OFMT = "%.17g" }
function fail(msg) { failures++; print "MISMATCH: " msg }
function check(what, got, want) {
    if (got != want) fail(what ": " got " != " want)
    else checks++
}
/^frames offered / {
    offered = $3; sub(",", "", offered)
    received = $5; sub(":", "", received)
    ipv6 = $7; ipv6_bytes = $10
    perr = $0; sub(/.*parse errors /, "", perr); sub(/ .*/, "", perr)
}
/^drops: / { drop_records = $2; drop_packets = $5; drop_bytes = $8; sub(";", "", drop_bytes) }
/^original flows created / {
    created = $4; sub(",", "", created)
    for (i = 1; i <= NF; i++) {
        if ($i == "inactive") idle = $(i + 1)
        if ($i == "room") evicted = $(i + 1)
    }
    sub(",", "", idle)
}
/^commit / { at[$2] = $5 + 0; sub(":", "", at[$2]); ncommits++ }
/^FAILED:/ { fail("the run reports: " $0) }
/^mode +orig flows/ { section = "modes"; next }
/^mode +collector/ { section = "collectors"; next }
/^collected \(in-process collector\)/ { section = "collected"; next }
/^mode +records +flows/ { next }
/^$/ { if (section != "collected") section = ""; next }
section == "modes" {
    m = $1; modes[m] = 1
    m_flows[m] = $2; m_aggr[m] = $3; m_rec[m] = $4; m_pk[m] = $5; m_by[m] = $6; m_drop[m] = $7
    m_exp[m] = $8
}
section == "collectors" && $1 != "last" && $3 ~ /^[0-9]+$/ {
    m = $1; x_msg += $3; x_rec[m] += $4; x_mfail[m] += $5; x_rfail[m] += $6
}
section == "collected" && $1 != "total" && NF == 5 {
    m = $1; k_rec[m] = $2; k_flows[m] = $3; k_pk[m] = $4; k_by[m] = $5; kmodes[m] = 1
}
section == "collected" && / messages received, / { k_msg = $1; k_undec = $4 }
END {
    check("frames offered", offered, packets)
    check("frames received by the device", received, packets)
    check("IPv6 packets keyed", ipv6, packets)
    check("parse errors", perr, 0)
    check("commits applied", ncommits, 4)
    check("commit 1 frame", at["examples/soak/commit-1.cfg"], c1)
    check("commit 2 frame", at["examples/soak/commit-2.cfg"], c2)
    check("commit 3 frame", at["examples/soak/commit-3.cfg"], c3)
    check("commit 4 frame", at["examples/soak/commit-4.cfg"], c4)
    # Frames each mode saw (all frames are IPv6, so frames = packets).
    win["as"] = c1 + (packets - c4); win["vlan-id"] = c4 - c1
    win["source-prefix"] = c3; win["mpls-label"] = packets - c3
    split("as-tos bgp-nexthop-tos destination-prefix destination-prefix-tos index-tos prefix prefix-tos source-prefix-tos", whole, " ")
    for (i in whole) win[whole[i]] = packets
    n = 0
    for (m in win) {
        n++
        if (!(m in modes)) { fail(m ": not in the summary"); continue }
        check(m ": device packets in records + dropped", m_pk[m] + m_drop[m], win[m])
        check(m ": exported", m_exp[m], "yes")
        check(m ": records sent to the collector", x_rec[m], m_rec[m])
        check(m ": messages failed", x_mfail[m], 0)
        check(m ": records failed", x_rfail[m], 0)
        check(m ": collector records", k_rec[m], m_rec[m])
        check(m ": collector flows", k_flows[m], m_flows[m])
        check(m ": collector packets", k_pk[m], m_pk[m])
        check(m ": collector bytes", k_by[m], m_by[m])
    }
    for (m in modes) if (!(m in win)) fail(m ": a mode the soak does not enable")
    for (m in kmodes) if (!(m in win)) fail(m ": collected for a mode the soak does not enable")
    if (drop_bytes != 0)
        fail("the device dropped " drop_packets " packets / " drop_bytes " bytes; the summary has no per-mode byte drops, so bytes cannot be checked per mode")
    for (i in whole) check(whole[i] ": device bytes in records", m_by[whole[i]], ipv6_bytes)
    check("as + vlan-id bytes", m_by["as"] + m_by["vlan-id"], ipv6_bytes)
    check("source-prefix + mpls-label bytes", m_by["source-prefix"] + m_by["mpls-label"], ipv6_bytes)
    check("collector messages received = sent", k_msg, x_msg)
    check("collector messages undecodable", k_undec, 0)

    # Resident memory samples: count, first, median, last, largest (MiB).
    ns = 0
    while ((getline line < rssfile) > 0) {
        if (line ~ /^#/) continue
        split(line, f, " "); ns++; rss[ns] = f[2]
    }
    for (i = 1; i <= ns; i++) for (j = i + 1; j <= ns; j++) if (rss[j] < rss[i]) { t = rss[i]; rss[i] = rss[j]; rss[j] = t }
    printf "soak: %.0f packets, %.0f flows, %d modes, %d commits, wall %.1f s, %.0f packets/s\n", packets, flows, n, ncommits, wall, (wall > 0 ? packets / wall : 0)
    printf "soak: peak RSS %.1f MiB; %d RSS samples: min %.1f, median %.1f, max %.1f MiB\n", peak / 1024, ns, (ns ? rss[1] / 1024 : 0), (ns ? rss[int((ns + 1) / 2)] / 1024 : 0), (ns ? rss[ns] / 1024 : 0)
    printf "soak: original flows created %.0f (aged inactive %.0f, evicted for room %.0f); device drops %.0f records / %.0f packets / %.0f bytes\n", created, idle, evicted, drop_records, drop_packets, drop_bytes
    for (m in m_rec) nrec += m_rec[m]
    printf "soak: keyed %.0f packets / %.0f bytes; %.0f records exported, %.0f messages received by the collector\n", ipv6, ipv6_bytes, nrec, k_msg
    printf "soak: %d checks passed, %d failed\n", checks, failures
    exit failures > 0 ? 1 : 0
}' "$out/summary.txt" | tee "$out/checks.txt"
status=${PIPESTATUS[0]}
echo "soak: RSS samples (seconds, VmRSS kB, VmHWM kB) in $out/rss.txt; summary in $out/summary.txt"
if ((status != 0)); then
    echo "soak: FAILED" >&2
    exit 1
fi
echo "soak: passed"
