//! The committed register-map artefacts in docs/ are current, and the C header and the
//! SystemRDL file are valid to a C compiler and to systemrdl-compiler (PeakRDL's front end).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_rtl::{generate, regs};
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

#[test]
fn c_header_compiles_and_agrees_with_the_map() {
    if !require_tool("cc") {
        return;
    }
    let dir = tempfile_dir();
    let src = dir.join("check.c");
    // Values written out from the map by this test, checked by the compiler against the
    // header's macros.
    let mut c = String::from("#include \"nsflow_regs.h\"\n");
    for r in regs::REGISTERS {
        let n = r.name;
        if r.count == 1 {
            c += &format!("_Static_assert(NSFLOW_{n} == {}u, \"{n}\");\n", r.offset);
        } else {
            c += &format!(
                "_Static_assert(NSFLOW_{n}({}) == {}u, \"{n}\");\n",
                r.count - 1,
                r.at(r.count - 1)
            );
        }
        c += &format!(
            "_Static_assert(NSFLOW_{n}_RESET == {}u, \"{n} reset\");\n",
            r.reset()
        );
    }
    c += "int main(void) { return 0; }\n";
    std::fs::write(&src, c).unwrap();
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(workspace_root().join("docs"))
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(dir.join("check.o"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc rejected nsflow_regs.h:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
        print(len(regs))\nfor r in regs:\n    print(hex(r.absolute_address))\n";
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
    let count: usize = lines.next().unwrap().parse().unwrap();
    let mut rdl_offsets: Vec<u32> = lines
        .map(|l| u32::from_str_radix(l.trim_start_matches("0x"), 16).unwrap())
        .collect();
    rdl_offsets.sort();
    let map_offsets: Vec<u32> = regs::all_registers().iter().map(|i| i.offset).collect();
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
