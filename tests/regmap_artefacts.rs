//! The committed register-map artefacts in docs/ are current, the C header compiles with
//! every firmware toolchain (gcc and clang; C99, C11, gnu99, C++11, C++17), and the
//! SystemRDL file is valid to systemrdl-compiler (PeakRDL's front end) and spans BAR0.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("nsflow-regmap-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
