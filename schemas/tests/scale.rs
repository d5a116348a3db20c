//! Scale: a node file with 10,000 domains parses quickly (well under 0.5 s in a
//! release build), and a small domain's definition stays a few KB in memory, so
//! 100,000 of them fit comfortably.
//!
//! Memory is measured with a counting global allocator, the only way to see heap
//! use from a test; it wraps the system allocator and adds nothing else.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use virtbus_schemas::{DomainDef, NodeFile};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

/// The tests here run one at a time so the allocation count of one is not
/// disturbed by the other.
static SERIAL: Mutex<()> = Mutex::new(());

// SAFETY: every method forwards to `System` with the caller's arguments, which
// upholds GlobalAlloc's contract; the counter is only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; the caller guarantees a valid layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; the caller guarantees `ptr` and `layout` match.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn small_domain(idx: usize) -> String {
    format!(
        "<domain type='test'>
  <name>dom{idx}</name>
  <uuid>{:08x}-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>1048576</memory>
  <currentMemory unit='KiB'>524288</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/dom{idx}.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:00:{:02x}:{:02x}'/>
      <source network='default'/>
    </interface>
    <memballoon model='virtio'/>
  </devices>
</domain>
",
        idx,
        (idx >> 8) & 0xff,
        idx & 0xff
    )
}

#[test]
fn ten_thousand_domains_parse_fast() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut xml = String::from("<node>\n");
    for idx in 0..10_000 {
        xml.push_str(&small_domain(idx));
    }
    xml.push_str("</node>\n");
    let start = Instant::now();
    let node = NodeFile::from_xml(&xml, Path::new("/")).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(node.domains.len(), 10_000);
    assert_eq!(node.domains[9_999].def.name, "dom9999");
    println!(
        "schemas scale: 10000 domains ({} bytes) parsed in {elapsed:?}",
        xml.len()
    );
    // The 0.5 s bound is for release builds (`cargo test --release`); an
    // unoptimised build is some ten times slower, so it only guards against
    // accidentally quadratic parsing.
    let limit_ms = if cfg!(debug_assertions) { 30_000 } else { 500 };
    assert!(elapsed.as_millis() < limit_ms, "took {elapsed:?}");
}

#[test]
fn small_domain_is_a_few_kb() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let xml = small_domain(7);
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let defs: Vec<DomainDef> = (0..100).map(|_| DomainDef::from_xml(&xml).unwrap()).collect();
    let per_domain = (LIVE_BYTES.load(Ordering::Relaxed) - before) / 100;
    println!(
        "schemas scale: a small domain ({} bytes of XML) holds about {per_domain} bytes",
        xml.len()
    );
    assert_eq!(defs.len(), 100);
    assert!(per_domain < 8 * 1024, "a small domain takes {per_domain} bytes");
}
