//! Renders the register map, the record layout and the key layout for firmware and RTL
//! teams: Markdown, a C header, JSON and SystemRDL. Everything comes from [`crate::regs`],
//! [`crate::msix`], [`crate::protocol`], [`crate::record`] and [`crate::key::layout`]; the
//! committed copies in `docs/` are checked against these functions by a test, so they
//! cannot go stale.

use crate::key::{layout, FieldSelect, KEY_BYTES};
use crate::msix::{self, Msix};
use crate::protocol;
use crate::record::{RECORD_BYTES, RECORD_FORMAT_VERSION, RECORD_KEY_OFFSET};
use crate::regs::{self, Access, Effect, GlobalStat, ProfileStat, Register, REGISTERS};
use std::fmt::Write as _;

/// The command that regenerates the artefacts, quoted in each of them.
pub const REGEN: &str = "cargo run -p nsflow-rtl --bin regmap -- write docs";

/// The record's header fields: (name, offset, size, C type, description).
pub const RECORD_FIELDS: [(&str, usize, usize, &str, &str); 9] = [
    ("version", 0, 1, "uint8_t", "record format version"),
    ("profile", 1, 1, "uint8_t", "profile index"),
    ("end_reason", 2, 1, "uint8_t", "IPFIX flowEndReason 1-5"),
    (
        "flags",
        3,
        1,
        "uint8_t",
        "bit 0 phase; bits 7:1 reserved (0)",
    ),
    (
        "flows",
        4,
        4,
        "uint32_t",
        "deltaFlowCount: original flows merged",
    ),
    ("packets", 8, 8, "uint64_t", "packets"),
    ("bytes", 16, 8, "uint64_t", "bytes (IPv6 header + payload)"),
    ("first_ns", 24, 8, "uint64_t", "first packet, device ns"),
    ("last_ns", 32, 8, "uint64_t", "last packet, device ns"),
];

fn bits(lsb: u8, width: u8) -> String {
    if width == 1 {
        format!("{lsb}")
    } else {
        format!("{}:{lsb}", lsb + width - 1)
    }
}

fn array_suffix(r: &Register) -> String {
    if r.count == 1 {
        String::new()
    } else {
        format!("[{}] (+{:#x})", r.count, r.stride)
    }
}

/// docs/regmap.md.
pub fn markdown() -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# nsflow register map v{}.{}\n",
        regs::VERSION_MAJOR,
        regs::VERSION_MINOR
    );
    let _ = writeln!(
        s,
        "Generated from `rtl-model/src/regs.rs` by `{REGEN}`; do not edit.\n"
    );
    let _ = writeln!(s, "BAR0 is {:#x} bytes of 32-bit little-endian registers. Reserved bits read 0 and ignore writes; writes to reserved bits, read-only registers and unknown offsets are ignored and counted in `UNKNOWN_ACCESS`. 64-bit statistics read consistently: write `CTRL.stats_snapshot`, then read LO and HI of any counter. Reading `TIME_LO` latches `TIME_HI`.\n", regs::BAR0_SIZE);
    let _ = writeln!(s, "Access: RO read-only, RW read/write, W1C write 1 to clear, WO write-only (reads 0, a write of 1 acts). Fields marked *build* hold the hardware build's parameters; the reset value shown is the contract's default build.\n");
    let _ = writeln!(s, "Effect: what an access does beyond storing or returning a value, with the SystemRDL property docs/nsflow.rdl says it with. SystemRDL says *that* an access strobes; *what* the strobe does (the field's description) is the logic around the register block.\n");
    for e in EFFECTS {
        let _ = writeln!(
            s,
            "- *{}* [{}]: {}",
            e.token(),
            rdl_effect(e),
            effect_doc(e)
        );
    }
    let _ = writeln!(s, "\nThe SystemRDL address map ends with `{BAR0_END}` at {:#x}, a reserved word that reads 0 like every unmapped offset, so that it spans BAR0. Not in SystemRDL: writes ignored by the map (unknown offsets, read-only registers, reserved bits) counting in `UNKNOWN_ACCESS`, and the statistics reading their values as latched by `CTRL.stats_snapshot`.\n", regs::BAR0_SIZE - 4);
    let _ = writeln!(s, "## Registers\n");
    let _ = writeln!(
        s,
        "| offset | register | field | bits | access | effect | reset | description |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for r in REGISTERS {
        let _ = writeln!(
            s,
            "| {:#06x} | **{}**{} | | | | | {:#x} | {} |",
            r.offset,
            r.name,
            array_suffix(r),
            r.reset(),
            r.doc
        );
        for f in r.fields {
            let build = if f.build_param { " *build*" } else { "" };
            let values: String = f
                .values
                .iter()
                .map(|v| format!("; {} `{}`: {}", v.value, v.name, v.doc))
                .collect();
            let _ = writeln!(
                s,
                "| | | {} | {} | {} | {} | {:#x}{build} | {}{values} |",
                f.name,
                bits(f.lsb, f.width),
                f.access.token(),
                f.effect.token(),
                f.reset,
                f.doc
            );
        }
    }
    let _ = writeln!(
        s,
        "\n## Statistics (64-bit, RO, latched by `CTRL.stats_snapshot`)\n"
    );
    let _ = writeln!(
        s,
        "Global counters at {:#x} + 8 × index (LO at +0, HI at +4):\n",
        regs::STATS_BASE
    );
    let _ = writeln!(s, "| offset | counter | description |\n|---|---|---|");
    for st in GlobalStat::ALL.iter().copied() {
        let (n, d) = (st.name(), st.doc());
        let _ = writeln!(s, "| {:#06x} | {n} | {d} |", regs::global_stat(st));
    }
    let _ = writeln!(
        s,
        "\nPer-profile counters at {:#x} + {:#x} × profile + {:#x} + 8 × index:\n",
        regs::PROFILE_BASE,
        regs::PROFILE_STRIDE,
        regs::PROFILE_STATS_OFFSET
    );
    let _ = writeln!(
        s,
        "| offset in block | counter | description |\n|---|---|---|"
    );
    for st in ProfileStat::ALL.iter().copied() {
        let (n, d) = (st.name(), st.doc());
        let _ = writeln!(
            s,
            "| {:#06x} | {n} | {d} |",
            regs::PROFILE_STATS_OFFSET + 8 * st.index() as u32
        );
    }
    markdown_msix(&mut s);
    markdown_protocol(&mut s);
    let _ = writeln!(
        s,
        "\n## Ring record (format {RECORD_FORMAT_VERSION}, {RECORD_BYTES} bytes, little-endian)\n"
    );
    let _ = writeln!(
        s,
        "| offset | size | field | description |\n|---|---|---|---|"
    );
    for (n, o, l, _, d) in RECORD_FIELDS {
        let _ = writeln!(s, "| {o} | {l} | {n} | {d} |");
    }
    let _ = writeln!(
        s,
        "| {RECORD_KEY_OFFSET} | {KEY_BYTES} | key | the profile's masked key, layout below |"
    );
    let _ = writeln!(s, "\n## Key ({KEY_BYTES} bytes; addresses in network order, integers little-endian, MPLS entries 3 octets label(20)|EXP(3)|S(1) big-endian)\n");
    let _ = writeln!(s, "| offset | size | field |\n|---|---|---|");
    for (n, o, l) in layout::FIELDS {
        let _ = writeln!(s, "| {o} | {l} | {n} |");
    }
    let _ = writeln!(s, "\n## Field-select bits (`PROF_FIELDS.select`)\n");
    let _ = writeln!(s, "| bit | field |\n|---|---|");
    for (i, n) in FieldSelect::BIT_NAMES.iter().enumerate() {
        let _ = writeln!(s, "| {i} | {n} |");
    }
    let _ = writeln!(s, "\n## Field-select masks per aggregation mode\n");
    let _ = writeln!(s, "| mode index | mode | PROF_FIELDS |\n|---|---|---|");
    for m in crate::AggregationMode::ALL {
        let _ = writeln!(
            s,
            "| {} | {} | {:#07x} |",
            m.index(),
            m.name(),
            m.field_select().0
        );
    }
    s
}

/// The MSI-X section of docs/regmap.md.
fn markdown_msix(s: &mut String) {
    let m = Msix::CONTRACT;
    let _ = writeln!(s, "\n## MSI-X\n");
    let _ = writeln!(s, "The function signals interrupts by MSI-X only (no INTx, no MSI). Its MSI-X capability (ID {:#04x}, in the capability list of configuration space; status bit 4 set) states this layout, and a driver refuses a device whose capability disagrees. The vector table and pending-bit array live in a BAR of their own, never in BAR0.\n", msix::CAP_ID);
    let _ = writeln!(s, "| item | value | capability field |\n|---|---|---|");
    let _ = writeln!(s, "| vectors | {} (vector 0: every `INT_STATUS` cause) | message control bits 10:0 = vectors − 1 |", m.vectors);
    let _ = writeln!(
        s,
        "| BAR | {} ({:#x} bytes, 32-bit memory) | table and PBA BIR, bits 2:0 |",
        m.table_bar,
        regs::MSIX_BAR_SIZE
    );
    let _ = writeln!(
        s,
        "| vector table | BAR{} + {:#x}, {} bytes (16 per vector) | table offset, bits 31:3 |",
        m.table_bar,
        m.table_offset,
        m.table_bytes()
    );
    let _ = writeln!(
        s,
        "| pending-bit array | BAR{} + {:#x}, {} bytes | PBA offset, bits 31:3 |",
        m.pba_bar,
        m.pba_offset,
        m.pba_bytes()
    );
}

/// The protocol section of docs/regmap.md.
fn markdown_protocol(s: &mut String) {
    let _ = writeln!(s, "\n## Protocol rules\n");
    let _ = writeln!(s, "What a write starts, when it is complete and how the host knows, which multi-word updates are atomic, and how the ring orders what it publishes. A bound of *n* cycles: the effect is complete by the end of cycle *c* + *n* − 1, where *c* is the cycle the register port takes the write, so the next access sees it. hwsim checks the model against every rule (hwsim/tests/protocol.rs).\n");
    let _ = writeln!(
        s,
        "| rule | kind | registers | bound | completion | guarantee |\n|---|---|---|---|---|---|"
    );
    for r in protocol::RULES {
        let registers: Vec<String> = r
            .registers
            .iter()
            .map(|g| format!("`{}`", g.name))
            .collect();
        let bound = r.bound_cycles.map_or_else(
            || "—".to_owned(),
            |n| format!("{n} cycle{}", if n == 1 { "" } else { "s" }),
        );
        let _ = writeln!(
            s,
            "| {} | {} | {} | {bound} | {} | {} |",
            r.name,
            r.kind.token(),
            if registers.is_empty() {
                "all of BAR0".to_owned()
            } else {
                registers.join(", ")
            },
            r.completion,
            r.rule
        );
    }
}

/// The header's compile-time assertion, for every toolchain: `static_assert` in C++11,
/// `_Static_assert` in C11, and before C11 a typedef of an array whose size is negative
/// when the condition fails. `tag` is an identifier, unique in the translation unit.
const C_STATIC_ASSERT: &str =
    "/* NSFLOW_STATIC_ASSERT(condition, tag): a compile-time check in C99, C11 and C++11. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define NSFLOW_STATIC_ASSERT(cond, tag) static_assert(cond, #tag)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define NSFLOW_STATIC_ASSERT(cond, tag) _Static_assert(cond, #tag)
#else
#define NSFLOW_STATIC_ASSERT(cond, tag) typedef char nsflow_static_assert_##tag[(cond) ? 1 : -1]
#endif
";

fn c_ident(name: &str) -> String {
    name.to_uppercase()
}

/// docs/nsflow_regs.h.
pub fn c_header() -> String {
    let mut s = String::new();
    let _ = writeln!(s, "/* nsflow register map v{}.{}: generated from rtl-model/src/regs.rs by\n * `{REGEN}`; do not edit. */", regs::VERSION_MAJOR, regs::VERSION_MINOR);
    let _ = writeln!(
        s,
        "#ifndef NSFLOW_REGS_H\n#define NSFLOW_REGS_H\n\n#include <stddef.h>\n#include <stdint.h>\n"
    );
    let _ = writeln!(s, "{C_STATIC_ASSERT}");
    let _ = writeln!(s, "#define NSFLOW_BAR0_SIZE 0x{:x}u", regs::BAR0_SIZE);
    let _ = writeln!(s, "#define NSFLOW_MAGIC 0x{:08x}u", regs::MAGIC);
    let _ = writeln!(
        s,
        "#define NSFLOW_VERSION_MAJOR {}u\n#define NSFLOW_VERSION_MINOR {}u",
        regs::VERSION_MAJOR,
        regs::VERSION_MINOR
    );
    let _ = writeln!(s, "#define NSFLOW_NUM_PROFILES {}u\n#define NSFLOW_RING_MIN_LOG2 {}u\n#define NSFLOW_RING_MAX_LOG2 {}u", regs::NUM_PROFILES, regs::RING_MIN_LOG2, regs::RING_MAX_LOG2);
    let _ = writeln!(
        s,
        "\n/* MSI-X: vectors, and the BAR (BIR) and offsets of the vector table and PBA. */"
    );
    let _ = writeln!(s, "#define NSFLOW_MSIX_CAP_ID 0x{:02x}u\n#define NSFLOW_MSIX_VECTORS {}u\n#define NSFLOW_MSIX_BAR {}u\n#define NSFLOW_MSIX_BAR_SIZE 0x{:x}u\n#define NSFLOW_MSIX_TABLE_OFFSET 0x{:03x}u\n#define NSFLOW_MSIX_PBA_OFFSET 0x{:03x}u", msix::CAP_ID, regs::MSIX_VECTORS, regs::MSIX_BAR, regs::MSIX_BAR_SIZE, regs::MSIX_TABLE_OFFSET, regs::MSIX_PBA_OFFSET);
    let _ = writeln!(
        s,
        "\n/* Protocol rules with a bound: cycles within which the effect is complete. */"
    );
    for r in protocol::RULES {
        if let Some(n) = r.bound_cycles {
            let _ = writeln!(s, "#define NSFLOW_PROTOCOL_{}_CYCLES {n}u", c_ident(r.name));
        }
    }
    for r in REGISTERS {
        let n = c_ident(r.name);
        let _ = writeln!(s, "\n/* {}: {} */", r.name, r.doc);
        if r.count == 1 {
            let _ = writeln!(s, "#define NSFLOW_{n} 0x{:03x}u", r.offset);
        } else {
            let _ = writeln!(
                s,
                "#define NSFLOW_{n}(i) (0x{:03x}u + (uint32_t)(i) * 0x{:x}u)",
                r.offset, r.stride
            );
            let _ = writeln!(s, "#define NSFLOW_{n}_COUNT {}u", r.count);
        }
        let _ = writeln!(s, "#define NSFLOW_{n}_RESET 0x{:08x}u", r.reset());
        for f in r.fields {
            let fnm = c_ident(f.name);
            let _ = writeln!(s, "#define NSFLOW_{n}_{fnm}_SHIFT {}u", f.lsb);
            let _ = writeln!(
                s,
                "#define NSFLOW_{n}_{fnm}_MASK 0x{:08x}u /* {} {} */",
                f.mask(),
                f.access.token(),
                f.doc.replace("*/", "* /")
            );
            if !f.values.is_empty() {
                let _ = writeln!(s, "enum nsflow_{}_{} {{", r.name.to_lowercase(), f.name);
                for v in f.values {
                    let _ = writeln!(
                        s,
                        "    NSFLOW_{n}_{fnm}_{} = {}, /* {} */",
                        v.name,
                        v.value,
                        v.doc.replace("*/", "* /")
                    );
                }
                let _ = writeln!(s, "}};");
            }
        }
    }
    let _ = writeln!(s, "\n/* 64-bit statistics: write NSFLOW_CTRL_STATS_SNAPSHOT_MASK to NSFLOW_CTRL, then read LO (+0) and HI (+4). */");
    for st in GlobalStat::ALL.iter().copied() {
        let (n, d) = (st.name(), st.doc());
        let _ = writeln!(
            s,
            "#define NSFLOW_STAT_{} 0x{:03x}u /* {d} */",
            c_ident(n),
            regs::global_stat(st)
        );
    }
    for st in ProfileStat::ALL.iter().copied() {
        let (n, d) = (st.name(), st.doc());
        let _ = writeln!(
            s,
            "#define NSFLOW_PROF_STAT_{}(p) (0x{:03x}u + (uint32_t)(p) * 0x{:x}u) /* {d} */",
            c_ident(n),
            regs::profile_stat(0, st),
            regs::PROFILE_STRIDE
        );
    }
    let _ = writeln!(
        s,
        "\n/* Ring record, format {RECORD_FORMAT_VERSION}, little-endian. */"
    );
    let _ = writeln!(s, "#define NSFLOW_RECORD_BYTES {RECORD_BYTES}u\n#define NSFLOW_RECORD_FORMAT {RECORD_FORMAT_VERSION}u\n#define NSFLOW_KEY_BYTES {KEY_BYTES}u");
    let _ = writeln!(s, "struct nsflow_record {{");
    for (n, _, _, t, d) in RECORD_FIELDS {
        let _ = writeln!(s, "    {t} {n}; /* {d} */");
    }
    let _ = writeln!(
        s,
        "    uint8_t key[NSFLOW_KEY_BYTES]; /* masked key, NSFLOW_KEY_* offsets */\n}};"
    );
    let _ = writeln!(
        s,
        "NSFLOW_STATIC_ASSERT(sizeof(struct nsflow_record) == NSFLOW_RECORD_BYTES, record_size);"
    );
    for (n, o, _, _, _) in RECORD_FIELDS {
        let _ = writeln!(
            s,
            "NSFLOW_STATIC_ASSERT(offsetof(struct nsflow_record, {n}) == {o}, record_{n});"
        );
    }
    let _ = writeln!(s, "NSFLOW_STATIC_ASSERT(offsetof(struct nsflow_record, key) == {RECORD_KEY_OFFSET}, record_key);");
    for (n, o, l) in layout::FIELDS {
        let _ = writeln!(
            s,
            "#define NSFLOW_KEY_{}_OFFSET {o}u\n#define NSFLOW_KEY_{}_LEN {l}u",
            c_ident(n),
            c_ident(n)
        );
    }
    for (i, n) in FieldSelect::BIT_NAMES.iter().enumerate() {
        let _ = writeln!(s, "#define NSFLOW_SELECT_{} (1u << {i})", c_ident(n));
    }
    for m in crate::AggregationMode::ALL {
        let _ = writeln!(
            s,
            "#define NSFLOW_MODE_{} {}u /* {}: PROF_FIELDS 0x{:05x} */",
            c_ident(&m.name().replace('-', "_")),
            m.index(),
            m.name(),
            m.field_select().0
        );
    }
    let _ = writeln!(s, "\n#endif /* NSFLOW_REGS_H */");
    s
}

fn json_str(s: &str) -> serde_json::Value {
    serde_json::Value::String(s.to_owned())
}

/// docs/regmap.json.
pub fn json() -> String {
    use serde_json::{json, Value};
    let regs: Vec<Value> = REGISTERS
        .iter()
        .map(|r| {
            json!({
                "name": r.name, "offset": r.offset, "count": r.count, "stride": r.stride,
                "block": r.block, "doc": r.doc, "reset": r.reset(),
                "fields": r.fields.iter().map(|f| json!({
                    "name": f.name, "lsb": f.lsb, "width": f.width, "access": f.access.token(),
                    "reset": f.reset, "build_param": f.build_param, "doc": f.doc,
                    "effect": f.effect.token(),
                    "values": f.values.iter().map(|v| json!({"name": v.name, "value": v.value, "doc": v.doc})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let global: Vec<Value> = regs::GlobalStat::ALL
        .iter()
        .map(|s| json!({"name": s.name(), "offset": regs::global_stat(*s), "doc": s.doc()}))
        .collect();
    let profile: Vec<Value> = regs::ProfileStat::ALL
        .iter()
        .map(|s| json!({"name": s.name(), "offset": regs::profile_stat(0, *s), "doc": s.doc()}))
        .collect();
    let v = json!({
        "generated_by": json_str(REGEN),
        "version": {"major": regs::VERSION_MAJOR, "minor": regs::VERSION_MINOR},
        "bar0_size": regs::BAR0_SIZE,
        "msix": {
            "cap_id": msix::CAP_ID, "vectors": regs::MSIX_VECTORS, "bar": regs::MSIX_BAR,
            "bar_size": regs::MSIX_BAR_SIZE, "table_offset": regs::MSIX_TABLE_OFFSET,
            "pba_offset": regs::MSIX_PBA_OFFSET,
        },
        "registers": regs,
        "protocol": protocol::RULES.iter().map(|r| json!({
            "name": r.name, "kind": r.kind.token(),
            "registers": r.registers.iter().map(|g| g.name).collect::<Vec<_>>(),
            "bound_cycles": r.bound_cycles, "completion": r.completion, "rule": r.rule,
        })).collect::<Vec<_>>(),
        "global_stats": global,
        "profile_stats": {"block_stride": regs::PROFILE_STRIDE, "counters": profile},
        "record": {
            "bytes": RECORD_BYTES, "format": RECORD_FORMAT_VERSION,
            "fields": RECORD_FIELDS.iter().map(|(n, o, l, _, d)| json!({"name": n, "offset": o, "size": l, "doc": d})).collect::<Vec<_>>(),
            "key_offset": RECORD_KEY_OFFSET,
        },
        "key": layout::FIELDS.iter().map(|(n, o, l)| json!({"name": n, "offset": o, "size": l})).collect::<Vec<_>>(),
        "modes": crate::AggregationMode::ALL.iter().map(|m| json!({"index": m.index(), "name": m.name(), "field_select": m.field_select().0, "template_id": m.template_id()})).collect::<Vec<_>>(),
    });
    let mut out = serde_json::to_string_pretty(&v).unwrap_or_default();
    out.push('\n');
    out
}

/// Every side effect, in the order the documentation lists them.
const EFFECTS: [Effect; 5] = [
    Effect::Constant,
    Effect::Sticky,
    Effect::Pulse,
    Effect::WriteStrobe,
    Effect::ReadStrobe,
];

/// What an effect means, for the documentation.
fn effect_doc(e: Effect) -> &'static str {
    match e {
        Effect::None => "",
        Effect::Constant => "a constant of the hardware build; the register block has no input for it and reads its reset value",
        Effect::Sticky => "hardware sets the bit, it stays set until software writes 1 to it (a write of 0 leaves it); a software clear wins over a hardware set in the same cycle",
        Effect::Pulse => "a write of 1 starts the action for one cycle; the bit reads 0",
        Effect::WriteStrobe => "every write strobes the hardware (a command, a doorbell, a reconfiguration)",
        Effect::ReadStrobe => "every read strobes the hardware (TIME_LO latches TIME_HI)",
    }
}

/// The SystemRDL properties of an effect (beyond `sw`).
fn rdl_effect(e: Effect) -> &'static str {
    match e {
        Effect::None => "",
        Effect::Constant => "hw = na",
        Effect::Sticky => "hw = w; intr; stickybit",
        Effect::Pulse => "hw = r; singlepulse",
        Effect::WriteStrobe => "hw = r; swmod",
        Effect::ReadStrobe => "hw = w; swacc",
    }
}

fn rdl_access(f: &regs::Field) -> String {
    let sw = match f.access {
        Access::Ro => "sw = r;",
        Access::Rw => "sw = rw;",
        Access::W1c => "sw = rw; onwrite = woclr;",
        Access::Wo => "sw = w;",
    };
    let hw = match (f.effect, f.access) {
        (Effect::None, Access::Ro) => "hw = w",
        (Effect::None, _) => "hw = r",
        (e, _) => rdl_effect(e),
    };
    format!("{sw} {hw};")
}

/// The name of the reserved last word of BAR0 in the SystemRDL map.
pub const BAR0_END: &str = "BAR0_END";

fn rdl_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn rdl_reg(
    s: &mut String,
    indent: &str,
    name: &str,
    doc: &str,
    fields: &[regs::Field],
    placement: &str,
) {
    let _ = writeln!(
        s,
        "{indent}reg {{\n{indent}    name = \"{name}\";\n{indent}    desc = \"{}\";",
        rdl_text(doc)
    );
    for f in fields {
        let encode = if f.values.is_empty() {
            String::new()
        } else {
            let mut e = format!("enum e_{} {{ ", f.name);
            for v in f.values {
                let _ = write!(
                    e,
                    "{} = {}'d{} {{ desc = \"{}\"; }}; ",
                    v.name,
                    f.width,
                    v.value,
                    rdl_text(v.doc)
                );
            }
            e + &format!("}}; encode = e_{}; ", f.name)
        };
        let _ = writeln!(
            s,
            "{indent}    field {{ {} {encode}desc = \"{}\"; }} f_{}[{}:{}] = 0x{:x};",
            rdl_access(f),
            rdl_text(f.doc),
            f.name,
            f.lsb + f.width - 1,
            f.lsb,
            f.reset
        );
    }
    let _ = writeln!(s, "{indent}}} {placement};");
}

/// docs/nsflow.rdl (SystemRDL 2.0, for PeakRDL: SystemVerilog register block, HTML...).
/// Field instance names carry an `f_` prefix so that none collides with a SystemRDL
/// keyword or property name (such as `enable` or `mask`).
pub fn systemrdl() -> String {
    let mut s = String::new();
    let _ = writeln!(s, "// nsflow register map v{}.{}: generated from rtl-model/src/regs.rs by\n// `{REGEN}`; do not edit.", regs::VERSION_MAJOR, regs::VERSION_MINOR);
    let _ = writeln!(s, "addrmap nsflow {{\n    name = \"nsflow flow-table engine\";\n    desc = \"BAR0 of the nsflow NetStream IPv6 flow-aggregation engine\";\n    default regwidth = 32;\n    default accesswidth = 32;");
    for r in REGISTERS.iter().filter(|r| r.block != "profile") {
        let placement = if r.count == 1 {
            format!("{} @ 0x{:x}", r.name, r.offset)
        } else {
            format!(
                "{}[{}] @ 0x{:x} += 0x{:x}",
                r.name, r.count, r.offset, r.stride
            )
        };
        rdl_reg(&mut s, "    ", r.name, r.doc, r.fields, &placement);
    }
    let half = |hi: bool| regs::Field {
        doc: if hi {
            "Bits 63:32 of the counter latched by CTRL.stats_snapshot"
        } else {
            "Bits 31:0 of the counter latched by CTRL.stats_snapshot"
        },
        ..regs::STAT_VALUE
    };
    for st in GlobalStat::ALL.iter().copied() {
        let (n, d) = (st.name(), st.doc());
        for hi in [false, true] {
            let nm = format!("STAT_{}_{}", c_ident(n), if hi { "HI" } else { "LO" });
            let placement = format!("{nm} @ 0x{:x}", regs::global_stat(st) + 4 * u32::from(hi));
            rdl_reg(&mut s, "    ", &nm, d, &[half(hi)], &placement);
        }
    }
    // The profile blocks: one register file, instantiated once per profile.
    let _ = writeln!(s, "    regfile {{\n        name = \"Aggregation profile\";");
    for r in REGISTERS.iter().filter(|r| r.block == "profile") {
        let placement = format!("{} @ 0x{:x}", r.name, r.offset - regs::PROFILE_BASE);
        rdl_reg(&mut s, "        ", r.name, r.doc, r.fields, &placement);
    }
    for st in ProfileStat::ALL.iter().copied() {
        let (n, d) = (st.name(), st.doc());
        for hi in [false, true] {
            let nm = format!("STAT_{}_{}", c_ident(n), if hi { "HI" } else { "LO" });
            let off = regs::profile_stat(0, st) + 4 * u32::from(hi) - regs::PROFILE_BASE;
            rdl_reg(
                &mut s,
                "        ",
                &nm,
                d,
                &[half(hi)],
                &format!("{nm} @ 0x{off:x}"),
            );
        }
    }
    let _ = writeln!(
        s,
        "    }} PROFILE[{}] @ 0x{:x} += 0x{:x};",
        regs::NUM_PROFILES,
        regs::PROFILE_BASE,
        regs::PROFILE_STRIDE
    );
    let end = regs::Field {
        name: "zero",
        doc: "Reads 0",
        ..regs::STAT_VALUE.with(Effect::Constant)
    };
    rdl_reg(
        &mut s,
        "    ",
        BAR0_END,
        "Reserved: the last word of BAR0, so that the address map spans it; reads 0 like every unmapped offset",
        &[end],
        &format!("{BAR0_END} @ 0x{:x}", regs::BAR0_SIZE - 4),
    );
    let _ = writeln!(s, "}};");
    s
}

/// Every artefact: (file name under docs/, contents).
pub fn artefacts() -> [(&'static str, String); 4] {
    [
        ("regmap.md", markdown()),
        ("nsflow_regs.h", c_header()),
        ("regmap.json", json()),
        ("nsflow.rdl", systemrdl()),
    ]
}
