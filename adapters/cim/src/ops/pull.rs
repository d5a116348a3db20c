//! Pull enumeration (DSP0200 §5.3.2.23ff): OpenEnumerateInstances,
//! OpenEnumerateInstancePaths, OpenAssociatorInstances(Paths),
//! OpenReferenceInstances(Paths), OpenQueryInstances (WQL, the subset of
//! `query.rs`), PullInstancesWithPath, PullInstancePaths, PullInstances,
//! EnumerationCount and CloseEnumeration.
//!
//! An enumeration context keeps the snapshot it started from and a cursor
//! (class index, last guest UUID), not the instances: guest-scoped classes
//! are produced one guest at a time, so memory stays flat in the number of
//! guests. Association contexts hold their (small, one-object) result.

use super::query::Select;
use super::{assoc, query, Engine, Params};
use crate::error::{CimError, CimStatus};
use crate::model::{self, path_of};
use crate::value::{Instance, ObjectPath};
use crate::xml::write::{self, esc};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;
use virtbus_actors::Snapshot;

/// Default and largest `OperationTimeout` (seconds).
const DEFAULT_TIMEOUT: u64 = 60;
const MAX_TIMEOUT: u64 = 600;
/// Largest `MaxObjectCount` per response.
const MAX_OBJECTS: u64 = 10_000;
/// Open contexts at once.
const MAX_CONTEXTS: usize = 256;

/// Classes whose providers produce one guest's instances at a time.
const GUEST_SCOPED: &[&str] = &[
    "KVM_ComputerSystem",
    "KVM_VirtualSystemSettingData",
    "KVM_EnabledLogicalElementCapabilities",
    "KVM_ProcResourceAllocationSettingData",
    "KVM_MemResourceAllocationSettingData",
    "KVM_DiskResourceAllocationSettingData",
    "KVM_NetResourceAllocationSettingData",
    "KVM_GraphicsResourceAllocationSettingData",
    "KVM_InputResourceAllocationSettingData",
    "KVM_ConsoleResourceAllocationSettingData",
    "KVM_ControllerResourceAllocationSettingData",
    "KVM_Processor",
    "KVM_Memory",
    "KVM_LogicalDisk",
    "KVM_NetworkPort",
    "KVM_DisplayController",
    "KVM_PointingDevice",
    "KVM_Controller",
    "KVM_SystemDevice",
    "KVM_VirtualSystemSettingDataComponent",
    "KVM_SettingsDefineState",
    "KVM_ElementSettingData",
    "KVM_HostedDependency",
    "KVM_ElementAllocatedFromPool",
    "KVM_ResourceAllocationFromPool",
];

/// What an enumeration answers with, fixed at Open: instance paths
/// (PullInstancePaths), instances with paths (PullInstancesWithPath) or
/// instances alone (OpenQueryInstances, PullInstances).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Paths,
    WithPaths,
    Instances,
}

impl Shape {
    fn describe(self) -> &'static str {
        match self {
            Shape::Paths => "paths (PullInstancePaths)",
            Shape::WithPaths => "instances with paths (PullInstancesWithPath)",
            Shape::Instances => "query instances (PullInstances)",
        }
    }
}

/// Classes whose providers give exactly one instance per guest: what
/// EnumerationCount can count without building instances.
const ONE_PER_GUEST: &[&str] = &[
    "KVM_ComputerSystem",
    "KVM_VirtualSystemSettingData",
    "KVM_EnabledLogicalElementCapabilities",
    "KVM_ProcResourceAllocationSettingData",
    "KVM_MemResourceAllocationSettingData",
];

struct EnumContext {
    snap: Arc<Snapshot>,
    namespace: String,
    classes: Vec<&'static str>,
    class_idx: usize,
    /// Last guest produced for the current class.
    last_guest: Option<Uuid>,
    pending: VecDeque<(ObjectPath, Instance)>,
    props: Option<Vec<String>>,
    shape: Shape,
    /// OpenQueryInstances: the WHERE conditions instances must meet.
    filter: Option<Arc<Select>>,
    timeout: Duration,
    expires: Instant,
}

impl EnumContext {
    /// A context over the instances of `class` and its subclasses in `ns`,
    /// read from the snapshot of this moment.
    fn new(
        engine: &Engine,
        ns: &str,
        class: &'static str,
        props: Option<Vec<String>>,
        shape: Shape,
        filter: Option<Arc<Select>>,
        timeout: Duration,
    ) -> EnumContext {
        EnumContext {
            snap: engine.core.snapshot(),
            namespace: ns.to_string(),
            classes: model::concrete_below(&engine.schema, ns, class),
            class_idx: 0,
            last_guest: None,
            pending: VecDeque::new(),
            props,
            shape,
            filter,
            timeout,
            expires: Instant::now() + timeout,
        }
    }
}

/// Open enumeration contexts by id.
#[derive(Default)]
pub struct Contexts {
    map: Mutex<HashMap<String, EnumContext>>,
    next: AtomicU64,
}

impl EnumContext {
    /// Moves up to `max` instances out of the enumeration.
    fn take(&mut self, engine: &Engine, max: usize) -> Vec<(ObjectPath, Instance)> {
        let mut out = Vec::new();
        while out.len() < max {
            if let Some(inst) = self.pending.pop_front() {
                out.push(inst);
                continue;
            }
            let Some(class) = self.classes.get(self.class_idx).copied() else {
                break;
            };
            let mut ctx = engine.ctx(&self.snap, &self.namespace);
            if GUEST_SCOPED.contains(&class) {
                let next = match self.last_guest {
                    None => self.snap.domains.iter().next(),
                    Some(last) => self
                        .snap
                        .domains
                        .range((Bound::Excluded(last), Bound::Unbounded))
                        .next(),
                };
                match next {
                    Some((uuid, dom)) => {
                        self.last_guest = Some(*uuid);
                        ctx.guest = Some(dom.def.name.clone());
                        let found = model::instances(&ctx, class);
                        self.queue(engine, found);
                    }
                    None => {
                        self.class_idx += 1;
                        self.last_guest = None;
                    }
                }
            } else {
                let found = model::instances(&ctx, class);
                self.queue(engine, found);
                self.class_idx += 1;
            }
        }
        out
    }

    fn queue(&mut self, engine: &Engine, found: Vec<Instance>) {
        for inst in found {
            if self.filter.as_ref().is_some_and(|f| !f.matches(&inst)) {
                continue;
            }
            let path = path_of(&engine.schema, &self.namespace, &inst);
            self.pending.push_back((path, inst));
        }
    }

    fn finished(&self) -> bool {
        self.pending.is_empty() && self.class_idx >= self.classes.len()
    }

    /// The instances still to come, when that is known without building
    /// them: what is queued plus one per remaining guest for the classes
    /// of [`ONE_PER_GUEST`]; `None` (EnumerationCount's NULL) otherwise.
    fn remaining(&self) -> Option<u64> {
        let mut n = self.pending.len() as u64;
        for (i, class) in self.classes.iter().enumerate().skip(self.class_idx) {
            if self.filter.is_some() || !ONE_PER_GUEST.contains(class) {
                return None;
            }
            n += match (i == self.class_idx, self.last_guest) {
                (true, Some(last)) => self
                    .snap
                    .domains
                    .range((Bound::Excluded(last), Bound::Unbounded))
                    .count() as u64,
                _ => self.snap.domains.len() as u64,
            };
        }
        Some(n)
    }
}

fn max_count(params: Params<'_>) -> Result<usize, CimError> {
    let n = params.uint("MaxObjectCount")?.unwrap_or(0);
    if n > MAX_OBJECTS {
        return Err(CimError::new(
            CimStatus::ServerLimitsExceeded,
            format!("MaxObjectCount {n} is above this server's limit of {MAX_OBJECTS}"),
        ));
    }
    Ok(n as usize)
}

fn respond(engine: &Engine, ctx: &mut EnumContext, id: &str, max: usize) -> (String, bool) {
    let items = ctx.take(engine, max);
    let mut out = String::from("<IRETURNVALUE>");
    for (path, inst) in &items {
        match ctx.shape {
            Shape::Paths => write::instance_path(&mut out, path, &engine.host),
            Shape::WithPaths => {
                out.push_str("<VALUE.INSTANCEWITHPATH>");
                write::instance_path(&mut out, path, &engine.host);
                write::instance(&mut out, inst, ctx.props.as_deref(), &engine.host);
                out.push_str("</VALUE.INSTANCEWITHPATH>");
            }
            Shape::Instances => write::instance(&mut out, inst, ctx.props.as_deref(), &engine.host),
        }
    }
    out.push_str("</IRETURNVALUE>");
    let done = ctx.finished();
    let _ = write!(
        out,
        "<PARAMVALUE NAME=\"EnumerationContext\"><VALUE>{}</VALUE></PARAMVALUE>\
         <PARAMVALUE NAME=\"EndOfSequence\"><VALUE>{}</VALUE></PARAMVALUE>",
        if done { "" } else { id },
        if done { "TRUE" } else { "FALSE" }
    );
    (out, done)
}

/// The Open* parameters every pull operation shares.
struct OpenParams {
    timeout: Duration,
    max: usize,
}

fn open_params(params: Params<'_>) -> Result<OpenParams, CimError> {
    if params.string("FilterQuery")?.is_some() || params.string("FilterQueryLanguage")?.is_some() {
        return Err(CimError::new(
            CimStatus::QueryLanguageNotSupported,
            "filtered pull enumeration is not supported",
        ));
    }
    timing_params(params)
}

/// OperationTimeout, MaxObjectCount and ContinueOnError.
fn timing_params(params: Params<'_>) -> Result<OpenParams, CimError> {
    if params.flag("ContinueOnError", false)? {
        return Err(CimError::new(
            CimStatus::NotSupported,
            "ContinueOnError is not supported",
        ));
    }
    let timeout = params.uint("OperationTimeout")?.unwrap_or(DEFAULT_TIMEOUT);
    if timeout > MAX_TIMEOUT {
        return Err(CimError::new(
            CimStatus::InvalidOperationTimeout,
            format!("OperationTimeout {timeout} is above {MAX_TIMEOUT} seconds"),
        ));
    }
    Ok(OpenParams {
        timeout: Duration::from_secs(timeout.max(1)),
        max: max_count(params)?,
    })
}

/// OpenEnumerateInstances / OpenEnumerateInstancePaths.
pub fn open(engine: &Engine, ns: &str, params: Params<'_>, paths_only: bool) -> Result<String, CimError> {
    let shape = if paths_only { Shape::Paths } else { Shape::WithPaths };
    let class = params.required_class("ClassName")?;
    let def = engine.class(ns, &class)?;
    let open = open_params(params)?;
    let props = if paths_only { None } else { params.property_list()? };
    let ctx = EnumContext::new(engine, ns, def.name, props, shape, None, open.timeout);
    start(engine, ctx, open.max)
}

/// OpenAssociatorInstances(Paths) and OpenReferenceInstances(Paths): the
/// result of one object's association query, served in pages.
pub fn open_assoc(
    engine: &Engine,
    ns: &str,
    params: Params<'_>,
    references: bool,
    paths_only: bool,
) -> Result<String, CimError> {
    let open = open_params(params)?;
    let found = assoc::find(engine, ns, params, "InstanceName", references)?;
    let pending: VecDeque<(ObjectPath, Instance)> = if references {
        found
            .refs
            .iter()
            .map(|inst| (path_of(&engine.schema, ns, inst), inst.clone()))
            .collect()
    } else {
        found.target_instances(engine, ns).into()
    };
    let ctx = EnumContext {
        snap: found.snap.clone(),
        namespace: ns.to_string(),
        classes: Vec::new(),
        class_idx: 0,
        last_guest: None,
        pending,
        props: if paths_only { None } else { found.props.clone() },
        shape: if paths_only { Shape::Paths } else { Shape::WithPaths },
        filter: None,
        timeout: open.timeout,
        expires: Instant::now() + open.timeout,
    };
    start(engine, ctx, open.max)
}

/// OpenQueryInstances: a WQL query (the ExecQuery subset) answered in
/// pages of instances without paths, as DSP0200 has it. The context walks
/// the snapshot like OpenEnumerateInstances and keeps only what matches.
/// ReturnQueryResultClass=true would need a class made up for the query's
/// projection; it is CIM_ERR_NOT_SUPPORTED.
pub fn open_query(engine: &Engine, ns: &str, params: Params<'_>) -> Result<String, CimError> {
    if params.flag("ReturnQueryResultClass", false)? {
        return Err(CimError::new(
            CimStatus::NotSupported,
            "ReturnQueryResultClass=true is not supported: the results are instances of the FROM class \
             and its subclasses, with the selected properties",
        ));
    }
    let (def, select) = query::prepare(
        engine,
        ns,
        params.string("FilterQueryLanguage")?,
        params.string("FilterQuery")?,
    )?;
    let open = timing_params(params)?;
    let props = select.props.clone();
    let ctx = EnumContext::new(
        engine,
        ns,
        def.name,
        props,
        Shape::Instances,
        Some(Arc::new(select)),
        open.timeout,
    );
    start(engine, ctx, open.max)
}

/// Answers the first page and keeps the context when more remains.
fn start(engine: &Engine, mut ctx: EnumContext, max: usize) -> Result<String, CimError> {
    let contexts = &engine.contexts;
    let id = format!("virtbus-{}", contexts.next.fetch_add(1, Ordering::Relaxed) + 1);
    let (out, done) = respond(engine, &mut ctx, &id, max);
    if !done {
        let mut map = contexts.map.lock();
        let now = Instant::now();
        map.retain(|_, c| c.expires > now);
        if map.len() >= MAX_CONTEXTS {
            return Err(CimError::new(
                CimStatus::ServerLimitsExceeded,
                format!("{MAX_CONTEXTS} enumeration contexts are open already"),
            ));
        }
        map.insert(id, ctx);
    }
    Ok(out)
}

fn context_id(params: Params<'_>) -> Result<String, CimError> {
    params
        .string("EnumerationContext")?
        .ok_or_else(|| CimError::new(CimStatus::InvalidParameter, "EnumerationContext is missing"))
}

fn invalid_context(id: &str) -> CimError {
    CimError::new(
        CimStatus::InvalidEnumerationContext,
        format!("enumeration context '{id}' is not open (closed, finished or timed out)"),
    )
}

pub fn pull(engine: &Engine, params: Params<'_>, shape: Shape) -> Result<String, CimError> {
    let id = context_id(params)?;
    let max = max_count(params)?;
    // Taken out of the map while in use, so two pulls never share it.
    let mut ctx = engine
        .contexts
        .map
        .lock()
        .remove(&id)
        .ok_or_else(|| invalid_context(&id))?;
    if ctx.expires <= Instant::now() {
        return Err(invalid_context(&id));
    }
    if ctx.shape != shape {
        let err = CimError::new(
            CimStatus::InvalidEnumerationContext,
            format!(
                "enumeration context '{}' was opened for {}",
                esc(&id),
                ctx.shape.describe()
            ),
        );
        engine.contexts.map.lock().insert(id, ctx);
        return Err(err);
    }
    let (out, done) = respond(engine, &mut ctx, &id, max);
    if !done {
        ctx.expires = Instant::now() + ctx.timeout;
        engine.contexts.map.lock().insert(id, ctx);
    }
    Ok(out)
}

/// EnumerationCount (DSP0200 §5.3.2.29, optional): how many instances the
/// context has left, when [`EnumContext::remaining`] knows it cheaply, else
/// NULL (an empty IRETURNVALUE), as DSP0200 allows. The context is neither
/// consumed nor renewed.
pub fn count(engine: &Engine, params: Params<'_>) -> Result<String, CimError> {
    let id = context_id(params)?;
    let map = engine.contexts.map.lock();
    let ctx = map
        .get(&id)
        .filter(|c| c.expires > Instant::now())
        .ok_or_else(|| invalid_context(&id))?;
    Ok(match ctx.remaining() {
        Some(n) => format!("<IRETURNVALUE><VALUE>{n}</VALUE></IRETURNVALUE>"),
        None => "<IRETURNVALUE></IRETURNVALUE>".to_string(),
    })
}

pub fn close(engine: &Engine, params: Params<'_>) -> Result<String, CimError> {
    let id = context_id(params)?;
    match engine.contexts.map.lock().remove(&id) {
        Some(_) => Ok(String::new()),
        None => Err(invalid_context(&id)),
    }
}
