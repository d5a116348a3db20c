//! Indication subscriptions (DSP1054) and delivery: `CIM_IndicationFilter`,
//! `CIM_ListenerDestinationCIMXML` (or `CIM_IndicationHandlerCIMXML`) and
//! `CIM_IndicationSubscription` instances that clients create and delete in
//! root/interop ([`Registry`], here), the filter query subset (`query.rs`)
//! and the delivery of KVM_ComputerSystem{Created,Modified,Deleted}Indication
//! from bus events to listeners by ExportIndication (`export.rs`).
//!
//! The registry is the only mutable model state; it is written to a file
//! (when the engine has one) after every change, so subscriptions outlive
//! an agent restart.

pub mod export;
pub mod query;

use crate::error::{CimError, CimStatus};
use crate::model::path_of;
use crate::schema::{Schema, NS_INTEROP};
use crate::value::{CimType, Instance, KeyValue, ObjectPath, Value};
use crate::xml::{dom, request, write};
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

pub const FILTER: &str = "CIM_IndicationFilter";
pub const SUBSCRIPTION: &str = "CIM_IndicationSubscription";
/// The listener destination classes clients may create.
pub const DESTINATIONS: &[&str] = &["CIM_ListenerDestinationCIMXML", "CIM_IndicationHandlerCIMXML"];
/// Every class the registry holds instances of.
pub const CLASSES: &[&str] = &[
    FILTER,
    "CIM_ListenerDestinationCIMXML",
    "CIM_IndicationHandlerCIMXML",
    SUBSCRIPTION,
];
/// Most instances the registry keeps (filters, destinations, subscriptions).
const MAX_INSTANCES: usize = 1024;

/// Filters, destinations and subscriptions.
#[derive(Default)]
pub struct Registry {
    instances: Mutex<Vec<Instance>>,
    /// Where the registry is persisted, when it is.
    file: Option<PathBuf>,
    pub(crate) delivery_started: AtomicBool,
}

fn invalid(msg: impl Into<String>) -> CimError {
    CimError::new(CimStatus::InvalidParameter, msg)
}

impl Registry {
    /// A registry persisted in `file`, loaded from it when it exists. A
    /// file that cannot be read is reported and set aside (renamed with a
    /// `.bad` suffix), never fatal.
    pub fn load(file: PathBuf) -> Registry {
        let mut instances = Vec::new();
        match std::fs::read(&file) {
            Ok(bytes) => match parse_file(&bytes) {
                Ok(list) => instances = list,
                Err(err) => {
                    let aside = file.with_extension("xml.bad");
                    tracing::warn!(
                        adapter = "cim",
                        file = %file.display(),
                        "cim: subscriptions file is unreadable ({err}); moved to {}",
                        aside.display()
                    );
                    let _ = std::fs::rename(&file, aside);
                }
            },
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                tracing::warn!(adapter = "cim", file = %file.display(), "cim: cannot read subscriptions: {err}")
            }
        }
        Registry {
            instances: Mutex::new(instances),
            file: Some(file),
            delivery_started: AtomicBool::new(false),
        }
    }

    /// The instances of exactly `class`.
    pub fn instances(&self, class: &str) -> Vec<Instance> {
        self.instances
            .lock()
            .iter()
            .filter(|i| i.class.eq_ignore_ascii_case(class))
            .cloned()
            .collect()
    }

    /// ModifyInstance of a subscription: SubscriptionState (2 enabled,
    /// 4 disabled) and OnFatalErrorPolicy; other properties are refused.
    pub fn modify_subscription(
        &self,
        schema: &Schema,
        path: &ObjectPath,
        props: &[crate::value::Property],
    ) -> Result<(), CimError> {
        let target = local(path);
        let mut all = self.instances.lock();
        let sub = all
            .iter_mut()
            .find(|i| i.class == SUBSCRIPTION && path_of(schema, NS_INTEROP, i).matches(&target))
            .ok_or_else(|| CimError::new(CimStatus::NotFound, format!("no instance {path}")))?;
        for prop in props {
            let text = prop.value.as_scalar().unwrap_or_default();
            if prop.name.eq_ignore_ascii_case("SubscriptionState") {
                if text != "2" && text != "4" {
                    return Err(invalid("SubscriptionState must be 2 (Enabled) or 4 (Disabled)"));
                }
                sub.set("SubscriptionState", CimType::Uint16, Value::str(text));
            } else if prop.name.eq_ignore_ascii_case("OnFatalErrorPolicy") {
                if !["2", "3", "4"].contains(&text) {
                    return Err(invalid("OnFatalErrorPolicy must be 2, 3 or 4"));
                }
                sub.set("OnFatalErrorPolicy", CimType::Uint16, Value::str(text));
            } else if sub.get(&prop.name) != Some(&prop.value) && prop.value != Value::Null {
                return Err(CimError::new(
                    CimStatus::NotSupported,
                    format!("{} of a subscription cannot be modified", prop.name),
                ));
            }
        }
        self.save(&all);
        Ok(())
    }

    /// (filter, destination) pairs of every enabled subscription.
    pub fn subscriptions(&self) -> Vec<(Instance, Instance)> {
        let all = self.instances.lock();
        let find = |path: Option<&Value>| -> Option<Instance> {
            let Some(Value::Ref(path)) = path else { return None };
            all.iter()
                .find(|i| path_of(&Schema::default(), NS_INTEROP, i).matches(&local(path)))
                .cloned()
        };
        all.iter()
            .filter(|i| i.class == SUBSCRIPTION && i.get_str("SubscriptionState") != Some("4"))
            .filter_map(|sub| Some((find(sub.get("Filter"))?, find(sub.get("Handler"))?)))
            .collect()
    }

    /// CreateInstance of a filter, destination or subscription; returns its path.
    pub fn create(&self, schema: &Schema, host: &str, mut inst: Instance) -> Result<ObjectPath, CimError> {
        let def = schema.get(NS_INTEROP, &inst.class).ok_or_else(|| {
            CimError::new(
                CimStatus::InvalidClass,
                format!("class '{}' does not exist in {NS_INTEROP}", inst.class),
            )
        })?;
        inst.class = def.name.to_string();
        if !CLASSES.contains(&def.name) {
            return Err(CimError::new(
                CimStatus::NotSupported,
                format!("instances of {} cannot be created", def.name),
            ));
        }
        for prop in &inst.props {
            if schema.property(def, &prop.name).is_none() {
                return Err(CimError::new(
                    CimStatus::InvalidParameter,
                    format!("{} has no property {}", def.name, prop.name),
                ));
            }
        }
        if def.name == SUBSCRIPTION {
            self.check_subscription(&mut inst)?;
        } else {
            // Keys the client may leave to the server (DSP1054 §7.3).
            for (name, default) in [("SystemCreationClassName", "KVM_HostSystem"), ("SystemName", host)] {
                if inst.get_str(name).is_none_or(str::is_empty) {
                    inst.set(name, CimType::String, Value::str(default));
                }
            }
            inst.set("CreationClassName", CimType::String, Value::str(def.name));
            if inst.get_str("Name").is_none_or(str::is_empty) {
                return Err(invalid(format!("{} needs a Name", def.name)));
            }
            if def.name == FILTER {
                let language = inst.get_str("QueryLanguage").unwrap_or("WQL").to_string();
                let text = inst
                    .get_str("Query")
                    .ok_or_else(|| invalid("the filter has no Query"))?
                    .to_string();
                query::parse(schema, &language, &text)?;
                inst.set("QueryLanguage", CimType::String, Value::str(language));
            } else {
                let dest = inst
                    .get_str("Destination")
                    .ok_or_else(|| invalid("the destination has no Destination URL"))?;
                export::Target::parse(dest)?;
                if inst.get("PersistenceType").is_none_or(|v| *v == Value::Null) {
                    inst.set("PersistenceType", CimType::Uint16, Value::num(2));
                }
                inst.set("Protocol", CimType::Uint16, Value::num(2));
            }
        }
        // Keep the instance typed as the class says, whatever the client sent.
        for prop in &mut inst.props {
            if let Some(p) = schema.property(def, &prop.name) {
                prop.ty = p.ty;
            }
        }
        let path = path_of(schema, NS_INTEROP, &inst);
        let mut all = self.instances.lock();
        if all.iter().any(|i| path_of(schema, NS_INTEROP, i).matches(&path)) {
            return Err(CimError::new(
                CimStatus::AlreadyExists,
                format!("{path} exists already"),
            ));
        }
        if all.len() >= MAX_INSTANCES {
            return Err(CimError::new(
                CimStatus::Failed,
                format!("this server keeps at most {MAX_INSTANCES} filters, destinations and subscriptions"),
            ));
        }
        all.push(inst);
        self.save(&all);
        Ok(path)
    }

    fn check_subscription(&self, inst: &mut Instance) -> Result<(), CimError> {
        let all = self.instances.lock();
        for (role, classes) in [("Filter", &[FILTER][..]), ("Handler", DESTINATIONS)] {
            let Some(Value::Ref(target)) = inst.get(role).cloned() else {
                return Err(invalid(format!("the subscription has no {role} reference")));
            };
            let target = local(&target);
            let exists = all.iter().any(|i| {
                classes.iter().any(|c| i.class.eq_ignore_ascii_case(c))
                    && path_of(&Schema::default(), NS_INTEROP, i).matches(&target)
            });
            if !exists {
                return Err(invalid(format!("the subscription's {role} {target} does not exist")));
            }
            inst.set(role, CimType::Reference, Value::Ref(target));
        }
        if inst.get("SubscriptionState").is_none_or(|v| *v == Value::Null) {
            inst.set("SubscriptionState", CimType::Uint16, Value::num(2));
        }
        if inst.get("OnFatalErrorPolicy").is_none_or(|v| *v == Value::Null) {
            inst.set("OnFatalErrorPolicy", CimType::Uint16, Value::num(2));
        }
        Ok(())
    }

    /// DeleteInstance; a filter or destination still referenced by a
    /// subscription stays (CIM_ERR_FAILED), as DSP1054 asks.
    pub fn delete(&self, schema: &Schema, path: &ObjectPath) -> Result<(), CimError> {
        let target = local(path);
        let mut all = self.instances.lock();
        let idx = all
            .iter()
            .position(|i| path_of(schema, NS_INTEROP, i).matches(&target))
            .ok_or_else(|| CimError::new(CimStatus::NotFound, format!("no instance {path}")))?;
        if all[idx].class != SUBSCRIPTION {
            let used = all.iter().any(|i| {
                i.class == SUBSCRIPTION
                    && ["Filter", "Handler"]
                        .iter()
                        .any(|role| matches!(i.get(role), Some(Value::Ref(r)) if r.matches(&target)))
            });
            if used {
                return Err(CimError::new(
                    CimStatus::Failed,
                    format!("{path} is used by a subscription; delete the subscription first"),
                ));
            }
        }
        all.remove(idx);
        self.save(&all);
        Ok(())
    }

    /// Writes the registry atomically (temp file, fsync, rename).
    fn save(&self, all: &[Instance]) {
        let Some(file) = &self.file else { return };
        let mut text = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<SUBSCRIPTIONS>\n");
        for inst in all {
            write::instance(&mut text, inst, None, "localhost");
            text.push('\n');
        }
        text.push_str("</SUBSCRIPTIONS>\n");
        let result = (|| -> std::io::Result<()> {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = file.with_extension("xml.tmp");
            {
                use std::io::Write;
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(text.as_bytes())?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, file)?;
            if let Some(dir) = file.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if let Err(err) = result {
            tracing::warn!(adapter = "cim", file = %file.display(), "cim: cannot save subscriptions: {err}");
        }
    }
}

/// A reference as the registry compares it: in root/interop, no host.
fn local(path: &ObjectPath) -> ObjectPath {
    let mut path = path.clone();
    path.namespace = Some(NS_INTEROP.to_string());
    for (_, value) in &mut path.keys {
        if let KeyValue::Ref(inner) = value {
            *inner = local(inner);
        }
    }
    path
}

fn parse_file(bytes: &[u8]) -> Result<Vec<Instance>, String> {
    let root = dom::parse(bytes, dom::Limits::default()).map_err(|e| e.to_string())?;
    if root.name != "SUBSCRIPTIONS" {
        return Err(format!("root element is {}, not SUBSCRIPTIONS", root.name));
    }
    root.children_named("INSTANCE")
        .map(|el| request::instance(el).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(name: &str) -> Instance {
        Instance::new(FILTER)
            .with("Name", CimType::String, Value::str(name))
            .with("Query", CimType::String, Value::str("SELECT * FROM CIM_InstCreation"))
            .with("QueryLanguage", CimType::String, Value::str("WQL"))
    }

    fn destination(name: &str) -> Instance {
        Instance::new("CIM_ListenerDestinationCIMXML")
            .with("Name", CimType::String, Value::str(name))
            .with("Destination", CimType::String, Value::str("http://127.0.0.1:5999"))
    }

    #[test]
    fn create_delete_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cim/subscriptions.xml");
        let schema = Schema::default();
        let reg = Registry::load(file.clone());
        let f = reg.create(&schema, "h", filter("f1")).unwrap();
        let d = reg.create(&schema, "h", destination("d1")).unwrap();
        assert_eq!(
            reg.create(&schema, "h", filter("f1")).unwrap_err().status,
            CimStatus::AlreadyExists
        );
        let sub = Instance::new(SUBSCRIPTION)
            .with("Filter", CimType::Reference, Value::Ref(f.clone()))
            .with("Handler", CimType::Reference, Value::Ref(d.clone()));
        let s = reg.create(&schema, "h", sub.clone()).unwrap();
        assert_eq!(reg.subscriptions().len(), 1);
        // In use: the filter stays.
        assert_eq!(reg.delete(&schema, &f).unwrap_err().status, CimStatus::Failed);

        // A second registry on the same file sees the same three instances.
        let again = Registry::load(file.clone());
        assert_eq!(again.instances(FILTER).len(), 1);
        assert_eq!(again.subscriptions().len(), 1);

        // Disabled subscriptions deliver nothing; enabled again, they do.
        let state = |v: &str| crate::value::Property {
            name: "SubscriptionState".into(),
            ty: CimType::Uint16,
            value: Value::str(v),
        };
        reg.modify_subscription(&schema, &s, &[state("4")]).unwrap();
        assert!(reg.subscriptions().is_empty());
        assert_eq!(
            reg.modify_subscription(&schema, &s, &[state("7")]).unwrap_err().status,
            CimStatus::InvalidParameter
        );
        reg.modify_subscription(&schema, &s, &[state("2")]).unwrap();
        assert_eq!(reg.subscriptions().len(), 1);

        reg.delete(&schema, &s).unwrap();
        reg.delete(&schema, &f).unwrap();
        assert_eq!(reg.delete(&schema, &f).unwrap_err().status, CimStatus::NotFound);
        // A subscription to a missing filter is refused.
        assert_eq!(
            reg.create(&schema, "h", sub).unwrap_err().status,
            CimStatus::InvalidParameter
        );
        let bad_dest = destination("d2").with("Destination", CimType::String, Value::str("ftp://x"));
        assert_eq!(
            reg.create(&schema, "h", bad_dest).unwrap_err().status,
            CimStatus::InvalidParameter
        );
        assert_eq!(
            reg.create(&schema, "h", Instance::new("CIM_Namespace"))
                .unwrap_err()
                .status,
            CimStatus::NotSupported
        );

        // A corrupt file is set aside, not fatal.
        std::fs::write(&file, "<nope").unwrap();
        let fresh = Registry::load(file.clone());
        assert!(fresh.instances(FILTER).is_empty());
        assert!(file.with_extension("xml.bad").exists());
    }
}
