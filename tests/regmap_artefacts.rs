//! The committed register-map artefacts in docs/ are current, the C header compiles with
//! every firmware toolchain (gcc and clang; C99, C11, gnu99, C++11, C++17), the SystemRDL
//! file is valid to systemrdl-compiler (PeakRDL's front end) and spans BAR0, and the header
//! PeakRDL's c-header exporter makes of it agrees with docs/nsflow_regs.h on every offset,
//! mask, shift and reset.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_rtl::regs::{GlobalStat, ProfileStat};
use nsflow_rtl::{generate, msix, protocol, regs};
use nsflow_tests::{require_python_module, require_tool, workspace_root};
use std::process::Command;

#[test]
fn committed_artefacts_are_not_stale() {
    let docs = workspace_root().join("docs");
    for (name, text) in generate::artefacts() {
        let committed = std::fs::read_to_string(docs.join(name)).unwrap_or_default();
        assert!(
            committed == text,
            "docs/{name} is stale: run `{}` and commit the result",
            generate::REGEN
        );
    }
}

/// Every firmware toolchain the header is for: (compiler, `-std=`, source extension).
const TOOLCHAINS: [(&str, &str, &str); 10] = [
    ("gcc", "c99", "c"),
    ("gcc", "c11", "c"),
    ("gcc", "gnu99", "c"),
    ("g++", "c++11", "cpp"),
    ("g++", "c++17", "cpp"),
    ("clang", "c99", "c"),
    ("clang", "c11", "c"),
    ("clang", "gnu99", "c"),
    ("clang++", "c++11", "cpp"),
    ("clang++", "c++17", "cpp"),
];

/// The header compiles warning-free (`-pedantic -Wall -Wextra -Werror`) with gcc and clang
/// as C99, C11, gnu99, C++11 and C++17, and its values are the map's: the test writes them
/// out as the header's own static assertions. Clang is skipped locally when absent and
/// required under `CI=true` (.ci/run installs it).
#[test]
fn c_header_compiles_everywhere_and_agrees_with_the_map() {
    let dir = tempfile_dir();
    let mut c = String::from("#include \"nsflow_regs.h\"\n");
    for r in regs::REGISTERS {
        let n = r.name;
        if r.count == 1 {
            c += &format!("NSFLOW_STATIC_ASSERT(NSFLOW_{n} == {}u, {n});\n", r.offset);
        } else {
            c += &format!(
                "NSFLOW_STATIC_ASSERT(NSFLOW_{n}({}) == {}u, {n});\n",
                r.count - 1,
                r.at(r.count - 1)
            );
        }
        c += &format!(
            "NSFLOW_STATIC_ASSERT(NSFLOW_{n}_RESET == {}u, {n}_reset);\n",
            r.reset()
        );
        for f in r.fields {
            for v in f.values {
                let e = format!("NSFLOW_{n}_{}_{}", f.name.to_uppercase(), v.name);
                c += &format!("NSFLOW_STATIC_ASSERT({e} == {}, {e});\n", v.value);
            }
        }
    }
    for (name, value) in [
        ("MSIX_CAP_ID", u32::from(msix::CAP_ID)),
        ("MSIX_VECTORS", u32::from(regs::MSIX_VECTORS)),
        ("MSIX_BAR", u32::from(regs::MSIX_BAR)),
        ("MSIX_BAR_SIZE", regs::MSIX_BAR_SIZE),
        ("MSIX_TABLE_OFFSET", regs::MSIX_TABLE_OFFSET),
        ("MSIX_PBA_OFFSET", regs::MSIX_PBA_OFFSET),
    ] {
        c += &format!("NSFLOW_STATIC_ASSERT(NSFLOW_{name} == {value}u, {name});\n");
    }
    for r in protocol::RULES {
        if let Some(n) = r.bound_cycles {
            let m = format!("NSFLOW_PROTOCOL_{}_CYCLES", r.name.to_uppercase());
            c += &format!("NSFLOW_STATIC_ASSERT({m} == {n}u, {m});\n");
        }
    }
    c += "int main(void) { return 0; }\n";
    let mut compiled = 0;
    for (compiler, std, ext) in TOOLCHAINS {
        if !require_tool(compiler) {
            continue;
        }
        let src = dir.join(format!("check.{ext}"));
        std::fs::write(&src, &c).unwrap();
        let out = Command::new(compiler)
            .arg(format!("-std={std}"))
            .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
            .arg(workspace_root().join("docs"))
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(dir.join("check.o"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{compiler} -std={std} rejected nsflow_regs.h:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        compiled += 1;
    }
    eprintln!(
        "nsflow_regs.h compiled in {compiled} of {} modes",
        TOOLCHAINS.len()
    );
}

/// The header's static assertion fails the build when its condition is false, in C99 (the
/// typedef trick), C11 and C++11: the checks above are not vacuous.
#[test]
fn c_header_static_assertion_fails_when_false() {
    let dir = tempfile_dir();
    let c = "#include \"nsflow_regs.h\"\nNSFLOW_STATIC_ASSERT(NSFLOW_MAGIC == 0u, magic);\n";
    for (compiler, std, ext) in [
        ("gcc", "c99", "c"),
        ("gcc", "c11", "c"),
        ("g++", "c++11", "cpp"),
    ] {
        if !require_tool(compiler) {
            continue;
        }
        let src = dir.join(format!("false.{ext}"));
        std::fs::write(&src, c).unwrap();
        let status = Command::new(compiler)
            .arg(format!("-std={std}"))
            .arg("-I")
            .arg(workspace_root().join("docs"))
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(dir.join("false.o"))
            .output()
            .unwrap()
            .status;
        assert!(
            !status.success(),
            "{compiler} -std={std} accepted a false assertion"
        );
    }
}

#[test]
fn systemrdl_compiles_with_the_register_count_of_the_map() {
    if !require_python_module("systemrdl") {
        return;
    }
    let rdl = workspace_root().join("docs/nsflow.rdl");
    let script =
        "import sys\nfrom systemrdl import RDLCompiler\nfrom systemrdl.node import RegNode\n\
        c = RDLCompiler()\nc.compile_file(sys.argv[1])\nroot = c.elaborate()\n\
        regs = [n for n in root.descendants(unroll=True) if isinstance(n, RegNode)]\n\
        print(hex(root.top.size))\nprint(len(regs))\nfor r in regs:\n    print(hex(r.absolute_address))\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&rdl)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "systemrdl-compiler rejected nsflow.rdl:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let hex = |l: &str| u32::from_str_radix(l.trim_start_matches("0x"), 16).unwrap();
    assert_eq!(
        hex(lines.next().unwrap()),
        regs::BAR0_SIZE,
        "the address map spans BAR0"
    );
    let count: usize = lines.next().unwrap().parse().unwrap();
    let mut rdl_offsets: Vec<u32> = lines.map(hex).collect();
    rdl_offsets.sort();
    // The map's registers, and the reserved last word that makes the RDL span BAR0.
    let mut map_offsets: Vec<u32> = regs::all_registers().iter().map(|i| i.offset).collect();
    map_offsets.push(regs::BAR0_SIZE - 4);
    assert_eq!(count, map_offsets.len());
    assert_eq!(
        rdl_offsets, map_offsets,
        "the RDL places registers where the map does"
    );
}

/// Static assertions, in C, that PeakRDL's header of docs/nsflow.rdl (its struct
/// `nsflow_t` and its `NSFLOW__…_bm/_bp/_reset` field macros) and docs/nsflow_regs.h agree
/// on every register instance's offset and every field's mask, shift and reset, for every
/// register and statistic of the map; the number of fields PeakRDL's header defines.
fn peakrdl_checks() -> (String, usize) {
    let mut c = String::from(
        "#include <stddef.h>\n#include \"peakrdl_nsflow.h\"\n#include \"nsflow_regs.h\"\n",
    );
    let mut check = |cond: String, tag: String| {
        c += &format!("NSFLOW_STATIC_ASSERT({cond}, {tag});\n");
    };
    let mut fields = 0;
    for r in regs::REGISTERS {
        let n = r.name;
        let profile = r.block == "profile";
        for i in 0..r.count {
            let (member, ours) = match (profile, r.count) {
                (true, _) => (format!("PROFILE[{i}].{n}"), format!("NSFLOW_{n}({i})")),
                (false, 1) => (n.to_owned(), format!("NSFLOW_{n}")),
                (false, _) => (format!("{n}[{i}]"), format!("NSFLOW_{n}({i})")),
            };
            check(
                format!("offsetof(nsflow_t, {member}) == {ours}"),
                format!("{n}_{i}_offset"),
            );
        }
        let scope = if profile {
            format!("PROFILE__{n}")
        } else {
            n.to_owned()
        };
        for f in r.fields {
            let fnm = f.name.to_uppercase();
            let (pk, ours) = (
                format!("NSFLOW__{scope}__F_{fnm}"),
                format!("NSFLOW_{n}_{fnm}"),
            );
            let tag = format!("{n}_{fnm}");
            check(
                format!("(uint64_t){pk}_bm == (uint64_t){ours}_MASK"),
                format!("{tag}_mask"),
            );
            check(
                format!("(uint64_t){pk}_bp == (uint64_t){ours}_SHIFT"),
                format!("{tag}_shift"),
            );
            check(
                format!(
                    "(uint64_t){pk}_reset == (uint64_t)((NSFLOW_{n}_RESET & {ours}_MASK) >> {ours}_SHIFT)"
                ),
                format!("{tag}_reset"),
            );
            fields += 1;
        }
    }
    // Statistics: offsets against the header's, the one field against the map's.
    let value = |c: &mut dyn FnMut(String, String), pk: String, tag: &str| {
        c(
            format!("(uint64_t){pk}__F_VALUE_bm == {}u", regs::STAT_VALUE.mask()),
            format!("{tag}_mask"),
        );
        c(
            format!(
                "(uint64_t){pk}__F_VALUE_reset == {}u",
                regs::STAT_VALUE.reset
            ),
            format!("{tag}_reset"),
        );
    };
    for st in GlobalStat::ALL {
        let n = st.name().to_uppercase();
        for (half, add) in [("LO", 0), ("HI", 4)] {
            let reg = format!("STAT_{n}_{half}");
            check(
                format!("offsetof(nsflow_t, {reg}) == NSFLOW_STAT_{n} + {add}"),
                format!("{reg}_offset"),
            );
            value(&mut check, format!("NSFLOW__{reg}"), &reg);
            fields += 1;
        }
    }
    for st in ProfileStat::ALL {
        let n = st.name().to_uppercase();
        for (half, add) in [("LO", 0), ("HI", 4)] {
            let reg = format!("STAT_{n}_{half}");
            for p in 0..regs::NUM_PROFILES {
                check(
                    format!("offsetof(nsflow_t, PROFILE[{p}].{reg}) == NSFLOW_PROF_STAT_{n}({p}) + {add}"),
                    format!("PROF_{reg}_{p}_offset"),
                );
            }
            value(
                &mut check,
                format!("NSFLOW__PROFILE__{reg}"),
                &format!("PROF_{reg}"),
            );
            fields += 1;
        }
    }
    check(
        format!(
            "offsetof(nsflow_t, {}) == NSFLOW_BAR0_SIZE - 4",
            generate::BAR0_END
        ),
        "bar0_end_offset".into(),
    );
    check(
        "sizeof(nsflow_t) == NSFLOW_BAR0_SIZE".into(),
        "bar0_size".into(),
    );
    c += "int main(void) { return 0; }\n";
    // BAR0_END's one field.
    (c, fields + 1)
}

/// `peakrdl c-header docs/nsflow.rdl` (PeakRDL-cheader, the header generator RTL teams
/// use) agrees with docs/nsflow_regs.h on every register offset (every instance of every
/// array and profile block), field mask, shift and reset, and defines no field the map
/// lacks: gcc compiles the static assertions of [`peakrdl_checks`] against both headers.
/// Skipped locally without peakrdl-cheader or gcc; required under `CI=true` (.ci/run).
#[test]
fn peakrdl_cheader_agrees_with_nsflow_regs_h() {
    if !(require_python_module("peakrdl_cheader") && require_tool("peakrdl") && require_tool("gcc"))
    {
        return;
    }
    let dir = tempfile_dir().join("peakrdl");
    std::fs::create_dir_all(&dir).unwrap();
    let header = dir.join("peakrdl_nsflow.h");
    let out = Command::new("peakrdl")
        .arg("c-header")
        .arg(workspace_root().join("docs/nsflow.rdl"))
        .arg("-o")
        .arg(&header)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "peakrdl c-header failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (source, fields) = peakrdl_checks();
    let text = std::fs::read_to_string(&header).unwrap();
    let defined = text
        .lines()
        .filter(|l| {
            l.starts_with("#define NSFLOW__")
                && l.split_whitespace()
                    .nth(1)
                    .is_some_and(|m| m.ends_with("_bm"))
        })
        .count();
    assert_eq!(defined, fields, "fields in PeakRDL's header vs the map");
    let src = dir.join("agree.c");
    std::fs::write(&src, source).unwrap();
    let out = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(&dir)
        .arg("-I")
        .arg(workspace_root().join("docs"))
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(dir.join("agree.o"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "PeakRDL's header disagrees with nsflow_regs.h:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("nsflow-regmap-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
