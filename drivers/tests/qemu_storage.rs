//! `dir` pools and volumes of the qemu driver with the real `qemu-img`.

mod qemu_common;

use qemu_common::*;
use virtbus_drivers::model::DriverEvent;
use virtbus_drivers::StorageDriver;
use virtbus_schemas::lifecycle::{PoolEventType, PoolState};
use virtbus_schemas::{ErrorCode, PoolDef, VolumeDef};

fn pool_events(events: &[DriverEvent]) -> Vec<PoolEventType> {
    events
        .iter()
        .filter_map(|e| match e {
            DriverEvent::Pool(p) => Some(*p),
            _ => None,
        })
        .collect()
}

fn volume(name: &str, capacity: u64, format: &str, backing: Option<&str>) -> VolumeDef {
    let backing = backing
        .map(|b| format!("<backingStore><path>{b}</path><format type='raw'/></backingStore>"))
        .unwrap_or_default();
    VolumeDef::from_xml(&format!(
        "<volume><name>{name}</name><capacity unit='bytes'>{capacity}</capacity>\
         <target><format type='{format}'/></target>{backing}</volume>"
    ))
    .expect("volume xml")
}

#[test]
fn dir_pool_lifecycle_and_volumes_through_qemu_img() {
    // qemu-img must be there; the driver finds it on PATH or via VIRTBUS_QEMU_IMG.
    qemu_img_binary();
    let state = tempfile::tempdir().expect("tempdir");
    let (driver, _notices) = open_driver(state.path());
    let dir = state.path().join("images");
    let def = PoolDef::from_xml(&format!(
        "<pool type='dir'><name>images</name><target><path>{}</path></target></pool>",
        dir.display()
    ))
    .expect("pool xml");
    let uuid = def.uuid;

    let out = driver.define_pool(def).expect("define");
    assert_eq!(pool_events(&out.events), vec![PoolEventType::Defined]);
    let err = driver.start_pool(uuid).expect_err("no directory yet");
    assert_eq!(err.code, ErrorCode::OperationFailed);
    let out = driver.build_pool(uuid).expect("build");
    assert_eq!(pool_events(&out.events), vec![PoolEventType::Created]);
    assert!(dir.is_dir());
    let out = driver.start_pool(uuid).expect("start");
    assert_eq!(pool_events(&out.events), vec![PoolEventType::Started]);
    let rec = out.record.expect("record");
    assert_eq!(rec.state, PoolState::Running);
    assert!(rec.def.capacity_bytes > 0);
    assert!(rec.volumes.is_empty());

    let (raw, _) = driver
        .create_volume(uuid, volume("base.img", 4 << 20, "raw", None))
        .expect("raw volume");
    assert_eq!(raw.def.capacity_bytes, 4 << 20);
    assert_eq!(raw.def.format.as_deref(), Some("raw"));
    let base_path = dir.join("base.img");
    assert_eq!(raw.def.target_path.as_deref(), Some(base_path.to_str().expect("utf8")));

    let (overlay, out) = driver
        .create_volume(uuid, volume("top.qcow2", 8 << 20, "qcow2", base_path.to_str()))
        .expect("qcow2 volume on a backing file");
    assert_eq!(overlay.def.format.as_deref(), Some("qcow2"));
    assert_eq!(overlay.def.capacity_bytes, 8 << 20);
    assert_eq!(overlay.def.backing_path.as_deref(), base_path.to_str());
    assert_eq!(out.record.expect("pool").volumes.len(), 2);

    let err = driver
        .create_volume(uuid, volume("base.img", 1 << 20, "raw", None))
        .expect_err("duplicate");
    assert_eq!(err.code, ErrorCode::OperationFailed);
    for bad in ["..", "a..b", "..hidden"] {
        let err = driver
            .create_volume(uuid, volume(bad, 1 << 20, "raw", None))
            .expect_err("name with ..");
        assert_eq!(err.code, ErrorCode::InvalidArg, "{bad}");
    }
    // A '/' never gets past the XML model.
    assert!(VolumeDef::from_xml("<volume><name>a/b</name><capacity>1</capacity></volume>").is_err());
    let err = driver.delete_volume(uuid, "../etc").expect_err("path in name");
    assert_eq!(err.code, ErrorCode::InvalidArg);
    let err = driver
        .create_volume(uuid, volume("v.vmdk", 1 << 20, "vmdk", None))
        .expect_err("format");
    assert_eq!(err.code, ErrorCode::NoSupport);

    let (grown, out) = driver.resize_volume(uuid, "top.qcow2", 16 << 20).expect("resize");
    assert_eq!(grown.def.capacity_bytes, 16 << 20);
    let pool_vol = out
        .record
        .expect("pool")
        .volumes
        .into_iter()
        .find(|v| v.def.name == "top.qcow2");
    assert_eq!(
        pool_vol.map(|v| v.def.capacity_bytes),
        Some(16 << 20),
        "the pool shows the new size"
    );
    let err = driver.resize_volume(uuid, "top.qcow2", 1 << 20).expect_err("shrink");
    assert_eq!(err.code, ErrorCode::InvalidArg);

    // A file dropped in by hand shows up on refresh, with qemu-img's facts.
    std::fs::write(dir.join("manual.raw"), vec![0u8; 65536]).expect("write");
    let out = driver.refresh_pool(uuid).expect("refresh");
    let rec = out.record.expect("pool");
    let manual = rec.volumes.iter().find(|v| v.def.name == "manual.raw").expect("found");
    assert_eq!(manual.def.capacity_bytes, 65536);

    driver.delete_volume(uuid, "top.qcow2").expect("delete");
    assert!(!dir.join("top.qcow2").exists());
    let err = driver.delete_volume(uuid, "top.qcow2").expect_err("gone");
    assert_eq!(err.code, ErrorCode::NoStorageVol);
    driver.delete_volume(uuid, "base.img").expect("delete");
    driver.delete_volume(uuid, "manual.raw").expect("delete");

    let err = driver.delete_pool(uuid).expect_err("active pool");
    assert_eq!(err.code, ErrorCode::OperationInvalid);
    let out = driver.destroy_pool(uuid).expect("destroy");
    assert_eq!(pool_events(&out.events), vec![PoolEventType::Stopped]);
    let out = driver.delete_pool(uuid).expect("delete");
    assert_eq!(pool_events(&out.events), vec![PoolEventType::Deleted]);
    assert!(!dir.exists());
    let out = driver.undefine_pool(uuid).expect("undefine");
    assert_eq!(pool_events(&out.events), vec![PoolEventType::Undefined]);
    assert!(out.record.is_none());
    assert_eq!(driver.get_pool(uuid).expect_err("gone").code, ErrorCode::NoStoragePool);

    let err = driver
        .define_pool(PoolDef::from_xml("<pool type='logical'><name>vg</name></pool>").expect("xml"))
        .expect_err("only dir pools");
    assert_eq!(err.code, ErrorCode::NoSupport);
}
