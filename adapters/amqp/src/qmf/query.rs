//! `_query_request`: objects, object ids, schema ids and schemas, filtered
//! by schema id, object id and `_where`, answered in batches
//! (docs/amqp.md §4).

use super::model::{self, QmfObject, CLASSES, EVENT_CLASSES};
use super::wire::{QueryRequest, Target, PACKAGE};
use super::Agent;
use serde_json::{json, Value};
use virtbus_actors::stats::DEFAULT_MAX_AGE;

/// Entries per `_query_response` message.
pub const BATCH: usize = 100;

/// The answer to a query: the `qmf.content` header and the entries.
#[derive(Debug)]
pub struct QueryAnswer {
    pub content: &'static str,
    pub entries: Vec<Value>,
}

impl Agent {
    pub async fn query(&self, q: &QueryRequest) -> QueryAnswer {
        let package_ok = q.package.as_deref().is_none_or(|p| p == PACKAGE);
        let agent_ok = q.agent_name.as_deref().is_none_or(|a| a == self.facts.agent_name);
        let class_ok = |class: &str| package_ok && q.class.as_deref().is_none_or(|c| c == class);
        match q.target {
            Target::SchemaId | Target::Schema => {
                let entries = CLASSES
                    .iter()
                    .chain(EVENT_CLASSES)
                    .filter(|c| class_ok(c))
                    .filter_map(|c| {
                        if q.target == Target::SchemaId {
                            Some(model::schema_id(c))
                        } else {
                            model::schema(c)
                        }
                    })
                    .collect();
                let content = if q.target == Target::SchemaId {
                    "_schema_id"
                } else {
                    "_schema"
                };
                QueryAnswer { content, entries }
            }
            Target::Object | Target::ObjectId => {
                let mut objects = Vec::new();
                if agent_ok {
                    for class in CLASSES.iter().filter(|c| class_ok(c)) {
                        // Statistics are sampled per domain: only when asked for by class.
                        if *class == "domainStats" && q.class.is_none() {
                            continue;
                        }
                        self.collect(class, q.object_name.as_deref(), &mut objects).await;
                    }
                }
                let update_ts = super::now_ns();
                let entries = objects
                    .into_iter()
                    .filter(|o| q.predicate.as_ref().is_none_or(|p| p.matches(&o.values)))
                    .map(|o| {
                        let oid = model::object_id(&self.facts.agent_name, &o.name);
                        if q.target == Target::ObjectId {
                            oid
                        } else {
                            json!({
                                "_schema_id": model::schema_id(o.class),
                                "_object_id": oid,
                                "_values": o.values,
                                "_create_ts": self.start_ns,
                                "_update_ts": update_ts,
                                "_delete_ts": 0,
                            })
                        }
                    })
                    .collect();
                let content = if q.target == Target::ObjectId {
                    "_object_id"
                } else {
                    "_data"
                };
                QueryAnswer { content, entries }
            }
        }
    }

    /// Appends the objects of `class` (only `only` when given) from the snapshot.
    async fn collect(&self, class: &'static str, only: Option<&str>, out: &mut Vec<QmfObject>) {
        let snap = self.core.snapshot();
        let agent = self.facts.agent_name.as_str();
        let wanted = |name: &str| only.is_none_or(|o| o == name);
        let mut push = |name: String, values| {
            out.push(QmfObject { class, name, values });
        };
        match class {
            "node" if wanted("node") => push("node".into(), model::node_values(&self.facts, &snap)),
            "domain" => {
                for (uuid, d) in snap.domains.iter() {
                    let name = model::domain_name(*uuid);
                    if !wanted(&name) {
                        continue;
                    }
                    let cpu = if d.is_active() {
                        self.core
                            .stats(*uuid, DEFAULT_MAX_AGE)
                            .await
                            .map(|s| s.cpu_time_ns)
                            .unwrap_or(0)
                    } else {
                        0
                    };
                    push(name, model::domain_values(agent, d, cpu));
                }
            }
            "pool" => {
                for (uuid, p) in snap.pools.iter() {
                    let name = model::pool_name(*uuid);
                    if wanted(&name) {
                        push(name, model::pool_values(agent, p));
                    }
                }
            }
            "volume" => {
                for (uuid, p) in snap.pools.iter() {
                    for v in &p.volumes {
                        let name = model::volume_name(*uuid, &v.def.name);
                        if wanted(&name) {
                            push(name, model::volume_values(agent, p, v));
                        }
                    }
                }
            }
            "network" => {
                for (uuid, n) in snap.networks.iter() {
                    let name = model::network_name(*uuid);
                    if wanted(&name) {
                        push(name, model::network_values(agent, n));
                    }
                }
            }
            "domainStats" => {
                for (uuid, d) in snap.domains.iter() {
                    let name = format!("domainStats/{uuid}");
                    if !d.is_active() || !wanted(&name) {
                        continue;
                    }
                    if let Ok(stats) = self.core.stats(*uuid, DEFAULT_MAX_AGE).await {
                        push(name, model::stats_values(agent, *uuid, &stats));
                    }
                }
            }
            _ => {}
        }
    }
}
