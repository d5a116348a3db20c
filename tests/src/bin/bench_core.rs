//! `bench_core`: the core benchmark of the foundation issue, in process.
//!
//! - `bench_core gen --domains N --out FILE` writes a libvirt test-driver node
//!   file with N domains (odd-numbered ones running, even-numbered shut off),
//!   readable by both `virtbus serve --connect test:///FILE` and
//!   `virsh -c test:///FILE`.
//! - `bench_core run --node FILE` starts a [`Core`] on that file and measures
//!   load time, resident memory, a full listing from the snapshot, commands
//!   per second through the actor path (one caller, then many concurrent
//!   callers on different domains) and the event fan-out rate to several
//!   subscribers. It prints a table, then one JSON line (starting with `{`)
//!   for `scripts/bench-core`.
//!
//! Every loop is bounded by a command count and a deadline, whichever comes
//! first. Nothing here asserts a target: `scripts/bench-core` compares the
//! numbers with the targets and with libvirt's own test driver.

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;
use virtbus_actors::snapshot::SnapshotCell;
use virtbus_actors::{Bus, Core, CoreConfig, DomainOp, EventBody, Received};
use virtbus_drivers::test::TestDriver;
use virtbus_drivers::{DomainRecord, HypervisorDriver};
use virtbus_schemas::lifecycle::DomainEventType;
use virtbus_schemas::NodeFile;

#[derive(Debug, Parser)]
#[command(
    name = "bench_core",
    about = "virtbus core benchmark (load, memory, list, actor commands/s, event fan-out)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a libvirt test-driver node file with N domains.
    Gen {
        #[arg(long, default_value_t = 10_000)]
        domains: usize,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Measure the core in process on a node file.
    Run(RunArgs),
    /// Time the stages of load and of one command separately, without actors.
    Breakdown {
        #[arg(long, value_name = "FILE")]
        node: PathBuf,
        /// Operations per per-command stage.
        #[arg(long, default_value_t = 100_000)]
        ops: u64,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Node file written by `gen`.
    #[arg(long, value_name = "FILE")]
    node: PathBuf,
    /// Commands per command phase (suspend + resume pairs), at most.
    #[arg(long, default_value_t = 200_000)]
    max_commands: u64,
    /// Seconds per command phase, at most.
    #[arg(long, default_value_t = 10)]
    max_seconds: u64,
    /// Concurrent callers in the concurrent phases.
    #[arg(long, default_value_t = 64)]
    callers: usize,
    /// Event subscribers in the fan-out phase.
    #[arg(long, default_value_t = 4)]
    subscribers: usize,
    /// Actor threads [default: as the agent, half the cores, at least 1].
    #[arg(long)]
    workers: Option<usize>,
    /// Threads of the callers' runtime (the adapters' runtime in the agent)
    /// [default: as the agent, the cores the actor threads leave, at least 1].
    #[arg(long)]
    caller_threads: Option<usize>,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen { domains, out } => write_node_file(&out, domains),
        Command::Run(args) => run(args),
        Command::Breakdown { node, ops } => breakdown(&node, ops),
    };
    if let Err(err) = result {
        eprintln!("bench_core: {err}");
        std::process::exit(1);
    }
}

// ---- the node file -------------------------------------------------------

/// A deterministic UUID per domain index, so runs compare.
fn domain_uuid(idx: usize) -> Uuid {
    let mut bytes = [0u8; 16];
    // Spread the index over the high bytes so the UUID-ordered snapshot is
    // not simply the file order.
    let mixed = (idx as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    bytes[..8].copy_from_slice(&mixed.to_be_bytes());
    bytes[8..].copy_from_slice(&(idx as u64).to_be_bytes());
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Writes a node file as libvirt's test driver reads it (`testOpenParse`):
/// domains only, odd-numbered ones running (the test driver's default
/// runstate), even-numbered ones shut off (`<test:runstate>5`).
fn write_node_file(path: &Path, n_domains: usize) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut text = String::with_capacity(64 * 1024);
    text.push_str("<node>\n");
    for idx in 1..=n_domains {
        let runstate = if idx % 2 == 0 {
            "<test:runstate>5</test:runstate>"
        } else {
            ""
        };
        let _ = writeln!(
            text,
            "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\
             <name>dom-{idx:05}</name><uuid>{uuid}</uuid><memory>65536</memory><vcpu>1</vcpu>\
             <os><type>hvm</type></os>{runstate}</domain>",
            uuid = domain_uuid(idx),
        );
        if text.len() > 60 * 1024 {
            out.write_all(text.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            text.clear();
        }
    }
    text.push_str("</node>\n");
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

// ---- measurements --------------------------------------------------------

/// `VmRSS` and `VmHWM` of this process, KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `virsh list --all` from the snapshot: active domains by id, then inactive
/// ones by name, rendered as virsh renders the table.
fn render_list(core: &Core) -> String {
    let snap = core.snapshot();
    let mut rows: Vec<&Arc<DomainRecord>> = snap.domains.values().collect();
    rows.sort_by(|a, b| match (a.id, b.id) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.def.name.to_lowercase().cmp(&b.def.name.to_lowercase()),
    });
    let name_width = rows.iter().map(|d| d.def.name.len()).max().unwrap_or(4).max(4);
    let mut text = String::with_capacity(rows.len() * (name_width + 24) + 64);
    let _ = writeln!(text, " {:<4} {:<name_width$}   State", "Id", "Name");
    let _ = writeln!(text, "{}", "-".repeat(name_width + 19));
    for d in rows {
        let id = d.id.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
        let _ = writeln!(text, " {id:<4} {:<name_width$}   {}", d.def.name, d.state.state.human());
    }
    text.push('\n');
    text
}

/// What one command phase did.
#[derive(Debug, Default, Clone, Copy)]
struct PhaseResult {
    ok: u64,
    failed: u64,
    elapsed: Duration,
}

impl PhaseResult {
    fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// How long one command phase may run: whichever limit comes first.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_commands: u64,
    max_seconds: u64,
}

/// The limits as the callers of one phase spend them.
struct Budget {
    issued: AtomicU64,
    max_commands: u64,
    deadline: Instant,
}

impl Budget {
    /// Claims one suspend + resume pair; `false` once the count or the time
    /// is spent.
    fn claim_pair(&self) -> bool {
        Instant::now() < self.deadline && self.issued.fetch_add(2, Ordering::Relaxed) + 2 <= self.max_commands
    }
}

/// One caller: suspend then resume each of `domains` in turn, until the
/// budget is spent. Pairs always complete, so every domain ends running.
async fn caller(core: Core, domains: Vec<Uuid>, budget: Arc<Budget>) -> (u64, u64) {
    let (mut ok, mut failed) = (0, 0);
    if domains.is_empty() {
        return (ok, failed);
    }
    for uuid in domains.iter().cycle() {
        if !budget.claim_pair() {
            break;
        }
        for op in [DomainOp::Suspend, DomainOp::Resume] {
            match core.domain(*uuid, op).await {
                Ok(_) => ok += 1,
                Err(err) => {
                    if failed == 0 {
                        eprintln!("bench_core: command on {uuid} failed: {err}");
                    }
                    failed += 1;
                }
            }
        }
    }
    (ok, failed)
}

/// Runs `callers` concurrent callers over disjoint sets of `running` domains.
async fn command_phase(core: &Core, running: &[Uuid], callers: usize, limits: Limits) -> PhaseResult {
    let callers = callers.clamp(1, running.len().max(1));
    let budget = Arc::new(Budget {
        issued: AtomicU64::new(0),
        max_commands: limits.max_commands,
        deadline: Instant::now() + Duration::from_secs(limits.max_seconds),
    });
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for caller_idx in 0..callers {
        let domains: Vec<Uuid> = running.iter().skip(caller_idx).step_by(callers).copied().collect();
        tasks.spawn(caller(core.clone(), domains, budget.clone()));
    }
    let mut result = PhaseResult::default();
    while let Some(joined) = tasks.join_next().await {
        let (ok, failed) = joined.unwrap_or((0, 1));
        result.ok += ok;
        result.failed += failed;
    }
    result.elapsed = started.elapsed();
    result
}

/// What the subscribers of the fan-out phase saw.
#[derive(Debug, Default)]
struct FanOut {
    commands: PhaseResult,
    delivered: u64,
    lagged: u64,
    /// From the first command to the last event delivered to any subscriber.
    elapsed: Duration,
}

/// The concurrent command phase again, with `subscribers` subscribers
/// draining the bus at the same time.
async fn fan_out_phase(core: &Core, running: &[Uuid], args: &RunArgs, limits: Limits) -> FanOut {
    // Set once the commands are done: the events each subscriber must see.
    let expected = Arc::new(AtomicU64::new(u64::MAX));
    let started = Instant::now();
    let mut subscribers = tokio::task::JoinSet::new();
    for _ in 0..args.subscribers {
        let mut sub = core.subscribe();
        let expected = expected.clone();
        subscribers.spawn(async move {
            let (mut delivered, mut lagged, mut last) = (0u64, 0u64, started);
            // A subscriber stops when it has seen (or been told it missed)
            // every event, or after two quiet seconds.
            while delivered + lagged < expected.load(Ordering::Acquire) {
                match tokio::time::timeout(Duration::from_secs(2), sub.recv()).await {
                    Ok(Received::Event(_)) => {
                        delivered += 1;
                        last = Instant::now();
                    }
                    Ok(Received::Lagged(n)) => lagged += n,
                    Ok(Received::Closed) | Err(_) => break,
                }
            }
            (delivered, lagged, last)
        });
    }
    let commands = command_phase(core, running, args.callers, limits).await;
    // Suspend and resume each publish exactly one lifecycle event.
    expected.store(commands.ok, Ordering::Release);
    let mut fan_out = FanOut {
        commands,
        ..FanOut::default()
    };
    let mut last_delivery = started;
    while let Some(joined) = subscribers.join_next().await {
        if let Ok((delivered, lagged, last)) = joined {
            fan_out.delivered += delivered;
            fan_out.lagged += lagged;
            last_delivery = last_delivery.max(last);
        }
    }
    fan_out.elapsed = last_delivery - started;
    fan_out
}

fn run(args: RunArgs) -> Result<(), String> {
    let path = std::fs::canonicalize(&args.node).map_err(|e| format!("cannot open {}: {e}", args.node.display()))?;
    let uri = format!("test://{}", path.display());
    let workers = args.workers.unwrap_or_else(virtbus_actors::default_workers);
    let caller_threads = args
        .caller_threads
        .unwrap_or_else(|| virtbus_actors::adapter_threads(workers));

    let rss_before = rss_kib().0;
    let config = CoreConfig {
        uri: uri.clone(),
        workers,
        ..CoreConfig::default()
    };
    let start_started = Instant::now();
    let core = Core::start(config).map_err(|e| format!("cannot start the core on {uri}: {e}"))?;
    let load = start_started.elapsed();
    let n_domains = core.report().domains;
    let list_started = Instant::now();
    let listing = render_list(&core);
    let list = list_started.elapsed();
    let list_lines = listing.lines().count();

    let running: Vec<Uuid> = core
        .snapshot()
        .domains
        .values()
        .filter(|d| d.is_active())
        .map(|d| d.uuid())
        .collect();

    let limits = Limits {
        max_commands: args.max_commands,
        max_seconds: args.max_seconds,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(caller_threads)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;

    let (single, concurrent, fan_out, rss_loaded, driver_open) = runtime.block_on(async {
        // One command per running domain first: every actor has started and
        // run once, so the RSS below includes all of them.
        let warm_up = Limits {
            max_commands: running.len() as u64 * 2,
            ..limits
        };
        command_phase(&core, &running, args.callers, warm_up).await;
        let rss_loaded = rss_kib();
        // The driver alone (node-file parse and the driver's tables), to
        // split the load time; measured after the core so that the core's
        // load and RSS are those of a fresh process.
        let driver_started = Instant::now();
        let driver = virtbus_drivers::open(&uri);
        let driver_open = driver_started.elapsed();
        drop(driver);
        let single = command_phase(&core, &running, 1, limits).await;
        let concurrent = command_phase(&core, &running, args.callers, limits).await;
        let fan_out = fan_out_phase(&core, &running, &args, limits).await;
        (single, concurrent, fan_out, rss_loaded, driver_open)
    });
    let rss_end = rss_kib();
    core.shutdown();

    report(Report {
        n_domains,
        n_running: running.len(),
        workers,
        caller_threads,
        driver_open,
        load,
        list,
        list_lines,
        rss_before,
        rss_loaded,
        rss_end,
        single,
        concurrent,
        fan_out,
        args: &args,
    });
    Ok(())
}

struct Report<'a> {
    n_domains: usize,
    n_running: usize,
    workers: usize,
    caller_threads: usize,
    driver_open: Duration,
    load: Duration,
    list: Duration,
    list_lines: usize,
    rss_before: u64,
    rss_loaded: (u64, u64),
    rss_end: (u64, u64),
    single: PhaseResult,
    concurrent: PhaseResult,
    fan_out: FanOut,
    args: &'a RunArgs,
}

fn report(r: Report<'_>) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let fan_rate = r.fan_out.delivered as f64 / r.fan_out.elapsed.as_secs_f64().max(1e-9);
    let per_domain = (r.rss_loaded.0.saturating_sub(r.rss_before) * 1024) as f64 / r.n_domains.max(1) as f64;
    println!(
        "bench_core: {} domains ({} running), {} actor threads, {} caller threads, {} callers, {} subscribers",
        r.n_domains, r.n_running, r.workers, r.caller_threads, r.args.callers, r.args.subscribers
    );
    println!("  {:<44} {:>14}", "measure", "value");
    let rows = [
        (
            "Core::start (driver + snapshot + actors)",
            format!("{:.1} ms", ms(r.load)),
        ),
        (
            "  of which driver open (node file, tables)",
            format!("{:.1} ms", ms(r.driver_open)),
        ),
        ("full list from snapshot", format!("{:.1} ms", ms(r.list))),
        ("load + list", format!("{:.1} ms", ms(r.load + r.list))),
        (
            "RSS after load (all actors run once)",
            format!("{:.1} MiB", mib(r.rss_loaded.0)),
        ),
        ("RSS per domain (delta over start)", format!("{per_domain:.0} B")),
        ("peak RSS (VmHWM) after load", format!("{:.1} MiB", mib(r.rss_loaded.1))),
        ("commands/s, 1 caller", format!("{:.0}", r.single.per_second())),
        (
            "commands/s, concurrent callers",
            format!("{:.0}", r.concurrent.per_second()),
        ),
        (
            "commands/s, concurrent + subscribers",
            format!("{:.0}", r.fan_out.commands.per_second()),
        ),
        ("events/s delivered (all subscribers)", format!("{fan_rate:.0}")),
        (
            "events lagged (dropped for subscribers)",
            format!("{}", r.fan_out.lagged),
        ),
        (
            "failed commands",
            format!("{}", r.single.failed + r.concurrent.failed + r.fan_out.commands.failed),
        ),
    ];
    for (name, value) in rows {
        println!("  {name:<44} {value:>14}");
    }
    // Flat keys, so the script can pick values with `jq -r .KEY`.
    let mut line = json!({
        "domains": r.n_domains,
        "running": r.n_running,
        "workers": r.workers,
        "caller_threads": r.caller_threads,
        "callers": r.args.callers,
        "subscribers": r.args.subscribers,
        "driver_open_ms": ms(r.driver_open),
        "load_ms": ms(r.load),
        "list_ms": ms(r.list),
        "list_lines": r.list_lines,
        "rss_before_kib": r.rss_before,
        "rss_loaded_kib": r.rss_loaded.0,
        "rss_peak_loaded_kib": r.rss_loaded.1,
        "rss_peak_end_kib": r.rss_end.1,
        "fan_out_delivered": r.fan_out.delivered,
        "fan_out_lagged": r.fan_out.lagged,
        "fan_out_seconds": r.fan_out.elapsed.as_secs_f64(),
        "fan_out_events_per_second": fan_rate,
    });
    for (prefix, p) in [
        ("single", &r.single),
        ("concurrent", &r.concurrent),
        ("fan_out_commands", &r.fan_out.commands),
    ] {
        line[format!("{prefix}_ok")] = json!(p.ok);
        line[format!("{prefix}_failed")] = json!(p.failed);
        line[format!("{prefix}_seconds")] = json!(p.elapsed.as_secs_f64());
        line[format!("{prefix}_per_second")] = json!(p.per_second());
    }
    println!("{line}");
}

// ---- breakdown -----------------------------------------------------------

/// Times the pieces the actor path is made of, one at a time on this thread:
/// what a load costs per stage, and what one command costs in the driver, in
/// the snapshot and on the bus. The gap between their sum and the actor path
/// measured by `run` is the cost of the actor hop itself.
fn breakdown(node: &Path, ops: u64) -> Result<(), String> {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let per_op = |d: Duration, n: u64| d.as_secs_f64() * 1e9 / n.max(1) as f64;
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut line = serde_json::Map::new();

    let started = Instant::now();
    let text = std::fs::read_to_string(node).map_err(|e| format!("cannot read {}: {e}", node.display()))?;
    let read = started.elapsed();
    let started = Instant::now();
    let base = node.parent().unwrap_or(Path::new("/"));
    let node_file = NodeFile::from_xml(&text, base).map_err(|e| format!("cannot parse {}: {e}", node.display()))?;
    let parse = started.elapsed();
    let started = Instant::now();
    let driver = TestDriver::from_node(node_file).map_err(|e| format!("cannot load {}: {e}", node.display()))?;
    let tables = started.elapsed();
    let started = Instant::now();
    let records = driver.list_domains().map_err(|e| e.to_string())?;
    let list_records = started.elapsed();
    let n_domains = records.len();
    let running: Vec<Uuid> = records.iter().filter(|d| d.is_active()).map(|d| d.uuid()).collect();
    let cell = SnapshotCell::default();
    let started = Instant::now();
    cell.replace_all(|s| {
        for d in records {
            s.domain_names.insert(d.def.name.clone(), d.uuid());
            s.domains.insert(d.uuid(), Arc::new(d));
        }
    });
    let snapshot_fill = started.elapsed();
    for (name, key, value) in [
        ("load: read node file", "read_ms", read),
        ("load: parse XML (NodeFile::from_xml)", "parse_ms", parse),
        ("load: driver tables (TestDriver::from_node)", "tables_ms", tables),
        ("load: driver list_domains (records)", "list_records_ms", list_records),
        ("load: fill snapshot (imbl maps)", "snapshot_fill_ms", snapshot_fill),
    ] {
        rows.push((name.into(), format!("{:.1} ms", ms(value))));
        line.insert(key.into(), json!(ms(value)));
    }

    // The listing sorted as `ctl list --all` sorts it (two lowercased
    // copies per comparison), then with each key computed once.
    let snap = cell.load();
    let started = Instant::now();
    let mut sorted: Vec<&Arc<DomainRecord>> = snap.domains.values().collect();
    sorted.sort_by_key(|d| d.def.name.to_lowercase());
    let sort_lowercase = started.elapsed();
    let started = Instant::now();
    let mut sorted: Vec<&Arc<DomainRecord>> = snap.domains.values().collect();
    sorted.sort_by_cached_key(|d| d.def.name.to_lowercase());
    let sort_cached = started.elapsed();
    drop(sorted);
    for (name, key, value) in [
        (
            "list: sort by to_lowercase() per comparison",
            "sort_lowercase_ms",
            sort_lowercase,
        ),
        (
            "list: sort_by_cached_key(to_lowercase)",
            "sort_cached_key_ms",
            sort_cached,
        ),
    ] {
        rows.push((name.into(), format!("{:.1} ms", ms(value))));
        line.insert(key.into(), json!(ms(value)));
    }

    // One command's pieces: the driver call, the snapshot publication, the
    // bus publication (4 subscribers that never read, as in a lagging case).
    let targets: Vec<Uuid> = running.iter().copied().cycle().take(ops.div_ceil(2) as usize).collect();
    let started = Instant::now();
    let mut outcomes = Vec::with_capacity(targets.len());
    for uuid in &targets {
        driver.suspend_domain(*uuid).map_err(|e| e.to_string())?;
        outcomes.push(driver.resume_domain(*uuid).map_err(|e| e.to_string())?);
    }
    let driver_ns = per_op(started.elapsed(), targets.len() as u64 * 2);
    let started = Instant::now();
    for outcome in outcomes {
        if let Some(record) = outcome.record {
            cell.put_domain(record);
        }
    }
    let snapshot_ns = per_op(started.elapsed(), targets.len() as u64);
    // The same publication split in two: the UUID-keyed record map alone,
    // then the name index alone (`put_domain` re-inserts the name each time).
    let record = cell.load().domains.get(&targets[0]).cloned();
    let started = Instant::now();
    for uuid in &targets {
        if let Some(record) = &record {
            cell.update(|s| {
                s.domains.insert(*uuid, record.clone());
            });
        }
    }
    let records_only_ns = per_op(started.elapsed(), targets.len() as u64);
    let names: Vec<(String, Uuid)> = targets
        .iter()
        .filter_map(|u| cell.load().domains.get(u).map(|d| (d.def.name.clone(), *u)))
        .collect();
    let started = Instant::now();
    for (name, uuid) in &names {
        cell.update(|s| {
            s.domain_names.insert(name.clone(), *uuid);
        });
    }
    let names_only_ns = per_op(started.elapsed(), names.len() as u64);
    let bus = Bus::new(1, 65_536);
    let _subscribers: Vec<_> = (0..4).map(|_| bus.subscribe()).collect();
    let started = Instant::now();
    for uuid in &targets {
        bus.publish(EventBody::Domain {
            uuid: *uuid,
            name: "dom-00001".into(),
            event: DomainEventType::Suspended,
            detail: "PAUSED",
            detail_code: 0,
            record: None,
            previous: None,
        });
    }
    let bus_ns = per_op(started.elapsed(), targets.len() as u64);
    for (name, key, value) in [
        ("command: driver suspend/resume", "driver_ns", driver_ns),
        ("command: snapshot put_domain", "snapshot_put_ns", snapshot_ns),
        (
            "  snapshot update, record map only",
            "snapshot_records_only_ns",
            records_only_ns,
        ),
        (
            "  snapshot update, name index only",
            "snapshot_names_only_ns",
            names_only_ns,
        ),
        ("command: bus publish", "bus_publish_ns", bus_ns),
    ] {
        rows.push((name.into(), format!("{value:.0} ns")));
        line.insert(key.into(), json!(value));
    }
    let sum = driver_ns + snapshot_ns + bus_ns;
    rows.push((
        "command: sum (ceiling for 1 thread)".into(),
        format!("{:.0}/s", 1e9 / sum.max(1.0)),
    ));
    line.insert("domains".into(), json!(n_domains));
    line.insert("sum_ns".into(), json!(sum));

    println!("bench_core breakdown: {n_domains} domains, {ops} operations per command stage");
    for (name, value) in rows {
        println!("  {name:<46} {value:>12}");
    }
    println!("{}", serde_json::Value::Object(line));
    Ok(())
}
