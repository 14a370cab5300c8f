//! `docs/export.md` lists every template exactly as the code builds it: the tables in the
//! document are compared with tables rendered from `Template::new` here.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_exporter::config::{FieldWidth, Format, Version};
use nsflow_exporter::ie;
use nsflow_exporter::template::{Template, Value};
use nsflow_rtl::AggregationMode;
use std::path::Path;

fn format(version: Version, w: FieldWidth) -> Format {
    Format {
        version,
        as_width: w,
        ifindex_width: w,
    }
}

fn octets(v: Value, len: u16) -> String {
    match v {
        Value::SrcAs | Value::DstAs | Value::InIf | Value::OutIf => "2 or 4".into(),
        _ => len.to_string(),
    }
}

/// The markdown section of one mode.
fn render(mode: AggregationMode) -> String {
    let v9 = Template::new(mode, format(Version::V9, FieldWidth::Two));
    let ipfix = Template::new(mode, format(Version::Ipfix, FieldWidth::Two));
    let v9w = Template::new(mode, format(Version::V9, FieldWidth::Four));
    let ipfixw = Template::new(mode, format(Version::Ipfix, FieldWidth::Four));
    let mut s = format!(
        "### `{}` — template {}\n\n| # | v9 field type | v9 octets | IPFIX Information Element | IPFIX octets |\n|---|---|---|---|---|\n",
        mode.name(),
        v9.id
    );
    for (i, x) in ipfix.fields.iter().enumerate() {
        let (v9cell, v9len) =
            v9.fields
                .get(i)
                .map_or(("—".to_string(), "—".to_string()), |f| {
                    (
                        format!("{} {}", f.ie, ie::name(f.ie)),
                        octets(f.value, f.len),
                    )
                });
        s += &format!(
            "| {} | {} | {} | {} {} | {} |\n",
            i + 1,
            v9cell,
            v9len,
            x.ie,
            ie::name(x.ie),
            octets(x.value, x.len)
        );
    }
    s += &format!(
        "\nRecord: v9 {} / {} octets, IPFIX {} / {} octets (2- / 4-octet AS and ifIndex).\n",
        v9.record_len, v9w.record_len, ipfix.record_len, ipfixw.record_len
    );
    s
}

#[test]
fn docs_export_md_lists_every_template_as_built() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/export.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    for mode in AggregationMode::ALL {
        let want = render(mode);
        assert!(
            doc.contains(&want),
            "docs/export.md does not have this section for {mode}:\n\n{want}"
        );
    }
}
