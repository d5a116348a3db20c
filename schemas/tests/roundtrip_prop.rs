//! Property test: generated domain XML — random names, memory sizes and units,
//! vCPU counts, and unknown elements with attributes, text and comments —
//! survives parse → `to_xml` → parse unchanged, keeps every unknown element in
//! order, and carries the values it was generated with.

use proptest::prelude::*;
use virtbus_schemas::xml::{self, Element, Node};
use virtbus_schemas::DomainDef;

/// Text that needs escaping now and then.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 <>&'\"._-]{0,12}"
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_][a-zA-Z0-9 ._<>&'\"-]{0,20}"
        .prop_map(|s| s.trim().to_string())
        .prop_filter("non-empty", |s| !s.is_empty())
}

/// An unknown element: a name, attributes, then text or child elements.
fn unknown_element() -> impl Strategy<Value = Element> {
    let leaf = (
        "x[a-z]{0,6}",
        prop::collection::vec(("a[a-z]{0,4}", text()), 0..3),
        text(),
    )
        .prop_map(|(name, attrs, body)| {
            let mut el = Element::new(name);
            for (k, v) in attrs {
                el.set_attr(&k, v);
            }
            if !body.trim().is_empty() {
                el.set_text(body);
            }
            el
        });
    leaf.prop_recursive(3, 12, 3, |inner| {
        (
            "y[a-z]{0,6}",
            prop::collection::vec(inner, 1..3),
            prop::option::of("[a-z ]{1,8}"),
        )
            .prop_map(|(name, kids, comment)| {
                let mut el = Element::new(name);
                if let Some(c) = comment {
                    el.children.push(Node::Comment(c));
                }
                for kid in kids {
                    el.push_child(kid);
                }
                el
            })
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn domain_round_trip(
        name in name(),
        mem in 1u64..(1 << 40),
        unit in prop::sample::select(vec!["", "KiB", "k", "MiB", "M", "b", "bytes", "KB", "MB"]),
        cur_frac in 0u64..=110,
        max in 1u32..512,
        cur_seed in 0u32..512,
        unknown in prop::collection::vec(unknown_element(), 0..4),
        with_uuid in any::<bool>(),
    ) {
        let current = cur_seed % max + 1;
        let unit_attr = if unit.is_empty() { String::new() } else { format!(" unit='{unit}'") };
        let cur_mem = mem * cur_frac / 100;
        let mut src = format!("<domain type='kvm'>\n  <name>{}</name>\n", escape(&name));
        if with_uuid {
            src.push_str("  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>\n");
        }
        src.push_str(&format!("  <memory{unit_attr}>{mem}</memory>\n"));
        src.push_str(&format!("  <currentMemory{unit_attr}>{cur_mem}</currentMemory>\n"));
        src.push_str(&format!("  <vcpu current='{current}'>{max}</vcpu>\n"));
        for el in &unknown {
            src.push_str(&el.to_xml());
        }
        src.push_str("  <devices>\n    <disk type='file'><target dev='vda'/></disk>\n  </devices>\n</domain>\n");

        let def = DomainDef::from_xml(&src).map_err(|e| TestCaseError::fail(format!("{}\n{src}", e.message)))?;
        prop_assert_eq!(&def.name, &name);
        let scale = virtbus_schemas::units::unit_scale(if unit.is_empty() { "KiB" } else { unit }).unwrap_or(1);
        let mem_kib = (mem * scale).div_ceil(1024);
        prop_assert_eq!(def.memory_kib, mem_kib);
        let cur_kib = (cur_mem * scale).div_ceil(1024);
        let expect_cur = if cur_kib == 0 || cur_kib > mem_kib { mem_kib } else { cur_kib };
        prop_assert_eq!(def.current_memory_kib, expect_cur);
        prop_assert_eq!((def.vcpu.max, def.vcpu.current), (max, current));

        let out = def.to_xml();
        let again = DomainDef::from_xml(&out).map_err(|e| TestCaseError::fail(format!("{}\n{out}", e.message)))?;
        prop_assert_eq!(&again, &def);
        prop_assert_eq!(again.to_xml(), out.clone());

        // Unknown elements come back verbatim and in order.
        let tree = xml::parse(&out).map_err(|e| TestCaseError::fail(e.message))?;
        let kept: Vec<&Element> = tree.elements().filter(|e| e.name.starts_with('x') || e.name.starts_with('y')).collect();
        prop_assert_eq!(kept.len(), unknown.len());
        for (got, want) in kept.iter().zip(&unknown) {
            prop_assert_eq!(*got, want);
        }
    }
}
