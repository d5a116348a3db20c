//! The control socket server: `STATE_DIR/virtbus.sock`, owner-only, one JSON
//! request per line, answered from the [`Core`].
//!
//! Bad input (malformed JSON, unknown commands, wrong types, lines over
//! [`MAX_REQUEST_BYTES`]) gets an error reply; the agent keeps serving.

use super::protocol::{Reply, Request, WireError, MAX_REQUEST_BYTES};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::net::{UnixListener, UnixStream};
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};
use virtbus_actors::bus::rfc3339;
use virtbus_actors::{Core, DomainOp, NetworkOp, PoolOp, Received};
use virtbus_drivers::{DomainRecord, DomainStats, LinkState, NetworkRecord, PoolRecord, VolumeRecord};
use virtbus_schemas::xml::escape;
use virtbus_schemas::{ErrorCode, VirtError, VirtResult};

/// Accepts connections until the task is dropped.
pub async fn serve(listener: UnixListener, core: Core) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let core = core.clone();
                tokio::spawn(async move {
                    if let Err(err) = handle_connection(stream, core).await {
                        tracing::debug!(error = %err, "control connection ended with an error");
                    }
                });
            }
            Err(err) => {
                tracing::warn!(error = %err, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle_connection(stream: UnixStream, core: Core) -> Result<(), LinesCodecError> {
    let mut framed = Framed::new(stream, LinesCodec::new_with_max_length(MAX_REQUEST_BYTES));
    while let Some(line) = framed.next().await {
        let line = match line {
            Ok(line) => line,
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                let err = VirtError::invalid_arg(format!(
                    "request longer than {MAX_REQUEST_BYTES} bytes refused; closing the connection"
                ));
                tracing::warn!("control request over {MAX_REQUEST_BYTES} bytes refused");
                send(&mut framed, &Reply::Error(WireError::from(&err))).await?;
                return Ok(());
            }
            Err(err) => return Err(err),
        };
        if line.trim().is_empty() {
            continue;
        }
        let request: Request = match serde_json::from_str(&line) {
            Ok(req) => req,
            Err(err) => {
                let err = VirtError::invalid_arg(format!("malformed control request: {err}"));
                send(&mut framed, &Reply::Error(WireError::from(&err))).await?;
                continue;
            }
        };
        if request == Request::Events {
            return stream_events(framed, core).await;
        }
        let reply = match execute(&core, request).await {
            Ok(value) => Reply::Ok(mark_stale(&core, value)),
            Err(err) => Reply::Error(WireError::from(&err)),
        };
        send(&mut framed, &reply).await?;
    }
    Ok(())
}

/// While the driver's link is down (libvirtd unreachable), every answer
/// comes from the last snapshot: say so in a `stale` field, which `virtbus
/// ctl` turns into a warning on stderr.
fn mark_stale(core: &Core, mut value: Value) -> Value {
    if let (LinkState::Down(down), Value::Object(map)) = (core.link_state(), &mut value) {
        map.insert(
            "stale".into(),
            json!({ "uri": core.uri(), "since": system_time(down.since), "reason": down.reason }),
        );
    }
    value
}

fn system_time(t: std::time::SystemTime) -> String {
    let ns = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    rfc3339(ns)
}

/// `status`: the driver connection and, when it is down, the outage.
fn status(core: &Core) -> Value {
    match core.link_state() {
        LinkState::Up => json!({ "uri": core.uri(), "epoch": core.epoch(), "link": "up" }),
        LinkState::Down(down) => json!({
            "uri": core.uri(),
            "epoch": core.epoch(),
            "link": "down",
            "since": system_time(down.since),
            "reason": down.reason,
            "attempts": down.attempts,
            "last_error": down.last_error,
        }),
    }
}

async fn send(framed: &mut Framed<UnixStream, LinesCodec>, reply: &Reply) -> Result<(), LinesCodecError> {
    let text = serde_json::to_string(reply).unwrap_or_else(|_| {
        r#"{"error":{"code":"INTERNAL_ERROR","number":1,"message":"reply not serialisable"}}"#.into()
    });
    framed.send(text).await
}

/// `events`: every bus event as a JSON line until the client hangs up.
async fn stream_events(mut framed: Framed<UnixStream, LinesCodec>, core: Core) -> Result<(), LinesCodecError> {
    let mut sub = core.subscribe();
    send(
        &mut framed,
        &Reply::Ok(json!({"streaming": true, "epoch": core.epoch()})),
    )
    .await?;
    loop {
        tokio::select! {
            received = sub.recv() => {
                let line = match received {
                    Received::Event(event) => serde_json::to_string(&event).unwrap_or_default(),
                    Received::Lagged(missed) => json!({"kind": "lagged", "missed": missed}).to_string(),
                    Received::Closed => return Ok(()),
                };
                framed.send(line).await?;
            }
            incoming = framed.next() => {
                // Anything but more input (hang-up, error) ends the stream.
                if !matches!(incoming, Some(Ok(_))) {
                    return Ok(());
                }
            }
        }
    }
}

/// Runs one request against the core.
pub async fn execute(core: &Core, request: Request) -> VirtResult<Value> {
    match request {
        Request::List { all } => {
            let snap = core.snapshot();
            let mut rows: Vec<&Arc<DomainRecord>> = snap.domains.values().filter(|d| all || d.is_active()).collect();
            // virsh: active domains by id, then inactive ones by name
            // (case-insensitive). The key is computed once per row.
            rows.sort_by_cached_key(|d| match d.id {
                Some(id) => (0, id, String::new()),
                None => (1, 0, d.def.name.to_lowercase()),
            });
            let domains: Vec<Value> = rows.iter().map(|d| domain_summary(d)).collect();
            Ok(json!({ "domains": domains }))
        }
        Request::Dominfo { domain } => {
            let rec = core.lookup_domain(&domain)?;
            let stats = core.domain_stats(rec.uuid()).await?;
            let rec = core.lookup_domain(&rec.uuid().to_string())?;
            Ok(dominfo(&rec, &stats))
        }
        Request::Domstate { domain } => Ok(domain_summary(&*core.lookup_domain(&domain)?)),
        Request::Dumpxml { domain, inactive } => {
            let rec = core.lookup_domain(&domain)?;
            let def = if inactive { rec.persistent_def() } else { &rec.def };
            Ok(json!({ "name": rec.def.name, "xml": def.to_xml() }))
        }
        Request::Define { xml } => Ok(domain_summary(&*core.define_domain(&xml).await?)),
        Request::Create { xml } => Ok(domain_summary(&*core.create_domain(&xml).await?)),
        Request::Undefine { domain } => domain_op(core, &domain, DomainOp::Undefine).await,
        Request::Start { domain } => domain_op(core, &domain, DomainOp::Start).await,
        Request::Shutdown { domain } => domain_op(core, &domain, DomainOp::Shutdown).await,
        Request::Destroy { domain } => domain_op(core, &domain, DomainOp::Destroy).await,
        Request::Suspend { domain } => domain_op(core, &domain, DomainOp::Suspend).await,
        Request::Resume { domain } => domain_op(core, &domain, DomainOp::Resume).await,
        Request::Reboot { domain } => domain_op(core, &domain, DomainOp::Reboot).await,
        Request::Reset { domain } => domain_op(core, &domain, DomainOp::Reset).await,
        Request::Setmem { domain, kib } => domain_op(core, &domain, DomainOp::SetMemory(kib)).await,
        Request::Setmaxmem { domain, kib } => domain_op(core, &domain, DomainOp::SetMaxMemory(kib)).await,
        Request::Setvcpus { domain, count } => domain_op(core, &domain, DomainOp::SetVcpus(count)).await,
        Request::Autostart { domain, disable } => domain_op(core, &domain, DomainOp::SetAutostart(!disable)).await,
        Request::DebugPanic { domain } => {
            let rec = core.lookup_domain(&domain)?;
            core.domain(rec.uuid(), DomainOp::Panic).await?;
            Ok(json!({}))
        }
        Request::Domstats { domains } => {
            let targets: Vec<Arc<DomainRecord>> = if domains.is_empty() {
                core.snapshot().domains.values().cloned().collect()
            } else {
                domains
                    .iter()
                    .map(|d| core.lookup_domain(d))
                    .collect::<VirtResult<_>>()?
            };
            let mut out = Vec::with_capacity(targets.len());
            for rec in targets {
                let stats = core.domain_stats(rec.uuid()).await?;
                out.push(json!({ "name": rec.def.name, "stats": domstats(&rec, &stats) }));
            }
            Ok(json!({ "domains": out }))
        }
        Request::PoolList { all } => {
            let snap = core.snapshot();
            let mut pools: Vec<&Arc<PoolRecord>> = snap.pools.values().filter(|p| all || p.is_active()).collect();
            pools.sort_by_cached_key(|p| p.def.name.to_lowercase());
            Ok(json!({ "pools": pools.iter().map(|p| pool_summary(p)).collect::<Vec<_>>() }))
        }
        Request::PoolInfo { pool } => Ok(pool_summary(&*core.lookup_pool(&pool)?)),
        Request::PoolDefine { xml } => Ok(pool_summary(&*core.define_pool(&xml).await?)),
        Request::PoolCreate { xml } => Ok(pool_summary(&*core.create_pool(&xml).await?)),
        Request::PoolDumpxml { pool } => {
            let rec = core.lookup_pool(&pool)?;
            Ok(json!({ "name": rec.def.name, "xml": rec.def.to_xml() }))
        }
        Request::PoolStart { pool } => pool_op(core, &pool, PoolOp::Start).await,
        Request::PoolBuild { pool } => pool_op(core, &pool, PoolOp::Build).await,
        Request::PoolDestroy { pool } => pool_op(core, &pool, PoolOp::Destroy).await,
        Request::PoolDelete { pool } => pool_op(core, &pool, PoolOp::Delete).await,
        Request::PoolRefresh { pool } => pool_op(core, &pool, PoolOp::Refresh).await,
        Request::PoolAutostart { pool, disable } => pool_op(core, &pool, PoolOp::SetAutostart(!disable)).await,
        Request::PoolUndefine { pool } => pool_op(core, &pool, PoolOp::Undefine).await,
        Request::VolList { pool } => {
            let rec = core.lookup_pool(&pool)?;
            if !rec.is_active() {
                return Err(VirtError::operation_invalid(format!(
                    "storage pool '{}' is not active",
                    rec.def.name
                )));
            }
            let mut vols: Vec<Value> = rec
                .volumes
                .iter()
                .map(|v| {
                    json!({
                        "name": v.def.name,
                        "path": v.def.target_path,
                        "key": v.def.key,
                        "type": v.def.vol_type.clone().unwrap_or_else(|| "file".into()),
                        "capacity_bytes": v.def.capacity_bytes,
                        "allocation_bytes": v.def.allocation_bytes,
                    })
                })
                .collect();
            vols.sort_by_key(|v| v["name"].as_str().unwrap_or_default().to_lowercase());
            Ok(json!({ "pool": rec.def.name, "volumes": vols }))
        }
        Request::VolCreateAs {
            pool,
            name,
            capacity_bytes,
            allocation_bytes,
            format,
        } => {
            let rec = core.lookup_pool(&pool)?;
            let xml = volume_xml(&name, capacity_bytes, allocation_bytes, format.as_deref());
            let vol = core.create_volume(rec.def.uuid, &xml).await?;
            Ok(json!({ "name": vol.def.name, "path": vol.def.target_path, "pool": vol.pool }))
        }
        Request::VolDumpxml { pool, vol } => {
            let (_, found) = find_volume(core, pool.as_deref(), &vol)?;
            Ok(json!({ "name": found.def.name, "xml": found.def.to_xml() }))
        }
        Request::VolDelete { pool, vol } => {
            let (pool, found) = find_volume(core, pool.as_deref(), &vol)?;
            core.pool(pool.def.uuid, PoolOp::DeleteVolume(found.def.name.clone()))
                .await?;
            Ok(json!({ "name": found.def.name }))
        }
        Request::VolResize {
            pool,
            vol,
            capacity_bytes,
        } => {
            let (pool, found) = find_volume(core, pool.as_deref(), &vol)?;
            let vol = core
                .resize_volume(pool.def.uuid, &found.def.name, capacity_bytes)
                .await?;
            Ok(json!({ "name": vol.def.name, "pool": vol.pool, "capacity_bytes": vol.def.capacity_bytes }))
        }
        Request::NetList { all } => {
            let snap = core.snapshot();
            let mut nets: Vec<&Arc<NetworkRecord>> = snap.networks.values().filter(|n| all || n.active).collect();
            nets.sort_by_cached_key(|n| n.def.name.to_lowercase());
            Ok(json!({ "networks": nets.iter().map(|n| network_summary(n)).collect::<Vec<_>>() }))
        }
        Request::NetInfo { network } => Ok(network_summary(&*core.lookup_network(&network)?)),
        Request::NetDefine { xml } => Ok(network_summary(&*core.define_network(&xml).await?)),
        Request::NetCreate { xml } => Ok(network_summary(&*core.create_network(&xml).await?)),
        Request::NetDumpxml { network } => {
            let rec = core.lookup_network(&network)?;
            Ok(json!({ "name": rec.def.name, "xml": rec.def.to_xml() }))
        }
        Request::NetStart { network } => network_op(core, &network, NetworkOp::Start).await,
        Request::NetDestroy { network } => network_op(core, &network, NetworkOp::Destroy).await,
        Request::NetAutostart { network, disable } => {
            network_op(core, &network, NetworkOp::SetAutostart(!disable)).await
        }
        Request::NetUndefine { network } => network_op(core, &network, NetworkOp::Undefine).await,
        Request::Nodeinfo => {
            let info = core.node_info()?;
            Ok(json!({
                "model": info.model,
                "memory_kib": info.memory_kib,
                "cpus": info.cpus,
                "mhz": info.mhz,
                "nodes": info.nodes,
                "sockets": info.sockets,
                "cores": info.cores,
                "threads": info.threads,
            }))
        }
        Request::Status => Ok(status(core)),
        Request::Events => Err(VirtError::internal("events is a streaming command")),
    }
}

async fn domain_op(core: &Core, key: &str, op: DomainOp) -> VirtResult<Value> {
    let rec = core.lookup_domain(key)?;
    let after = core.domain_record(rec.uuid(), op).await?;
    Ok(match after {
        Some(after) => domain_summary(&after),
        None => json!({ "name": rec.def.name, "uuid": rec.uuid(), "gone": true }),
    })
}

async fn pool_op(core: &Core, key: &str, op: PoolOp) -> VirtResult<Value> {
    let rec = core.lookup_pool(key)?;
    let after = core.pool_record(rec.def.uuid, op).await?;
    Ok(match after {
        Some(after) => pool_summary(&after),
        None => json!({ "name": rec.def.name, "uuid": rec.def.uuid, "gone": true }),
    })
}

async fn network_op(core: &Core, key: &str, op: NetworkOp) -> VirtResult<Value> {
    let rec = core.lookup_network(key)?;
    let after = core.network(rec.def.uuid, op).await?;
    Ok(match after {
        Some(after) => network_summary(&after),
        None => json!({ "name": rec.def.name, "uuid": rec.def.uuid, "gone": true }),
    })
}

fn domain_summary(d: &DomainRecord) -> Value {
    json!({
        "id": d.id,
        "name": d.def.name,
        "uuid": d.uuid(),
        "state": d.state.state,
        "state_human": d.state.state.human(),
        "reason": d.state.reason_name(),
        "reason_human": d.state.reason_human(),
        "persistent": d.persistent,
    })
}

fn dominfo(d: &DomainRecord, stats: &DomainStats) -> Value {
    let mut v = domain_summary(d);
    v["os_type"] = json!(d.def.os.os_type);
    v["vcpus"] = json!(d.def.vcpu.current);
    v["cpu_time_ns"] = json!(stats.cpu_time_ns);
    v["max_memory_kib"] = json!(d.def.memory_kib);
    v["used_memory_kib"] = json!(d.def.current_memory_kib);
    v["autostart"] = json!(d.autostart);
    v["managed_save"] = json!(d.has_managed_save);
    v
}

/// virsh `domstats` parameters (`virConnectGetAllDomainStats` names).
fn domstats(d: &DomainRecord, s: &DomainStats) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = vec![
        ("state.state".into(), json!(d.state.state.number())),
        ("state.reason".into(), json!(d.state.reason)),
        ("cpu.time".into(), json!(s.cpu_time_ns)),
        ("balloon.current".into(), json!(s.memory_current_kib)),
        ("balloon.maximum".into(), json!(s.memory_max_kib)),
        ("vcpu.current".into(), json!(s.vcpus)),
        ("vcpu.maximum".into(), json!(d.def.vcpu.max)),
        ("net.count".into(), json!(s.net.len())),
    ];
    for (i, n) in s.net.iter().enumerate() {
        out.push((format!("net.{i}.name"), json!(n.name)));
        out.push((format!("net.{i}.rx.bytes"), json!(n.rx_bytes)));
        out.push((format!("net.{i}.rx.pkts"), json!(n.rx_packets)));
        out.push((format!("net.{i}.rx.errs"), json!(n.rx_errs)));
        out.push((format!("net.{i}.rx.drop"), json!(n.rx_drop)));
        out.push((format!("net.{i}.tx.bytes"), json!(n.tx_bytes)));
        out.push((format!("net.{i}.tx.pkts"), json!(n.tx_packets)));
        out.push((format!("net.{i}.tx.errs"), json!(n.tx_errs)));
        out.push((format!("net.{i}.tx.drop"), json!(n.tx_drop)));
    }
    out.push(("block.count".into(), json!(s.block.len())));
    for (i, b) in s.block.iter().enumerate() {
        out.push((format!("block.{i}.name"), json!(b.name)));
        out.push((format!("block.{i}.rd.reqs"), json!(b.rd_reqs)));
        out.push((format!("block.{i}.rd.bytes"), json!(b.rd_bytes)));
        out.push((format!("block.{i}.wr.reqs"), json!(b.wr_reqs)));
        out.push((format!("block.{i}.wr.bytes"), json!(b.wr_bytes)));
        out.push((format!("block.{i}.errors"), json!(b.errors)));
    }
    out
}

fn pool_summary(p: &PoolRecord) -> Value {
    json!({
        "name": p.def.name,
        "uuid": p.def.uuid,
        "state": p.state,
        "state_human": p.state.human(),
        "active": p.is_active(),
        "persistent": p.persistent,
        "autostart": p.autostart,
        "capacity_bytes": p.def.capacity_bytes,
        "allocation_bytes": p.def.allocation_bytes,
        "available_bytes": p.def.available_bytes,
        "volumes": p.volumes.len(),
    })
}

fn network_summary(n: &NetworkRecord) -> Value {
    json!({
        "name": n.def.name,
        "uuid": n.def.uuid,
        "active": n.active,
        "persistent": n.persistent,
        "autostart": n.autostart,
        "bridge": n.def.bridge,
    })
}

/// virsh's volume lookup: by name in `pool`, else by path or key anywhere.
fn find_volume(core: &Core, pool: Option<&str>, vol: &str) -> VirtResult<(Arc<PoolRecord>, VolumeRecord)> {
    if let Some(pool) = pool {
        let rec = core.lookup_pool(pool)?;
        if !rec.is_active() {
            return Err(VirtError::operation_invalid(format!(
                "storage pool '{}' is not active",
                rec.def.name
            )));
        }
        let found = rec
            .volumes
            .iter()
            .find(|v| v.def.name == vol)
            .cloned()
            .ok_or_else(|| no_vol(vol))?;
        return Ok((rec, found));
    }
    let snap = core.snapshot();
    for rec in snap.pools.values() {
        let hit = rec
            .volumes
            .iter()
            .find(|v| v.def.target_path.as_deref() == Some(vol) || v.def.key.as_deref() == Some(vol));
        if let Some(found) = hit {
            return Ok((rec.clone(), found.clone()));
        }
    }
    Err(no_vol(vol))
}

fn no_vol(name: &str) -> VirtError {
    VirtError::new(
        ErrorCode::NoStorageVol,
        format!("no storage vol with matching name '{name}'"),
    )
}

/// The volume XML `vol-create-as` sends, as virsh builds it.
fn volume_xml(name: &str, capacity: u64, allocation: Option<u64>, format: Option<&str>) -> String {
    let mut xml = format!(
        "<volume><name>{}</name><capacity unit='bytes'>{capacity}</capacity>",
        escape(name)
    );
    if let Some(alloc) = allocation {
        xml.push_str(&format!("<allocation unit='bytes'>{alloc}</allocation>"));
    }
    if let Some(format) = format {
        xml.push_str(&format!("<target><format type='{}'/></target>", escape(format)));
    }
    xml.push_str("</volume>");
    xml
}
