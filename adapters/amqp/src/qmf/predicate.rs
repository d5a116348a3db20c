//! The QMF `_where` predicate language (docs/amqp.md §6): parsed once when
//! a request is decoded, evaluated against an object's `_values`.

use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Nesting deeper than this is refused (a request is not a program).
const MAX_DEPTH: usize = 32;
/// Compiled size limit of a `re_match` expression.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A parsed predicate.
#[derive(Debug, Clone)]
pub enum Predicate {
    True,
    False,
    And(Vec<Predicate>),
    Or(Vec<Predicate>),
    Not(Box<Predicate>),
    Exists(String),
    Compare(CmpOp, String, Value),
    ReMatch(String, regex::Regex),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Why a predicate could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredicateError {
    #[error("predicate must be a list starting with an operator name, got {0}")]
    NotAList(String),
    #[error("unknown predicate operator '{0}'")]
    UnknownOp(String),
    #[error("predicate operator '{op}' takes {expected} arguments, got {got}")]
    Arity { op: String, expected: usize, got: usize },
    #[error("predicate property name must be a string, got {0}")]
    BadName(String),
    #[error("re_match pattern must be a string")]
    BadPattern,
    #[error("invalid re_match pattern: {0}")]
    Regex(String),
    #[error("predicate nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

impl Predicate {
    /// Parses `value`; an empty list means "everything".
    pub fn parse(value: &Value) -> Result<Predicate, PredicateError> {
        parse_at(value, 0)
    }

    /// Whether the object with these `_values` satisfies the predicate.
    pub fn matches(&self, values: &Map<String, Value>) -> bool {
        match self {
            Predicate::True => true,
            Predicate::False => false,
            Predicate::And(list) => list.iter().all(|p| p.matches(values)),
            Predicate::Or(list) => list.iter().any(|p| p.matches(values)),
            Predicate::Not(p) => !p.matches(values),
            Predicate::Exists(name) => values.contains_key(name),
            Predicate::Compare(op, name, literal) => {
                let ordering = values.get(name).and_then(|v| compare(v, literal));
                match (op, ordering) {
                    (CmpOp::Ne, None) => true,
                    (_, None) => false,
                    (CmpOp::Eq, Some(o)) => o == Ordering::Equal,
                    (CmpOp::Ne, Some(o)) => o != Ordering::Equal,
                    (CmpOp::Lt, Some(o)) => o == Ordering::Less,
                    (CmpOp::Le, Some(o)) => o != Ordering::Greater,
                    (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
                    (CmpOp::Ge, Some(o)) => o != Ordering::Less,
                }
            }
            Predicate::ReMatch(name, re) => values.get(name).and_then(Value::as_str).is_some_and(|s| re.is_match(s)),
        }
    }
}

fn parse_at(value: &Value, depth: usize) -> Result<Predicate, PredicateError> {
    if depth > MAX_DEPTH {
        return Err(PredicateError::TooDeep);
    }
    let list = value.as_array().ok_or_else(|| PredicateError::NotAList(short(value)))?;
    let Some(first) = list.first() else {
        return Ok(Predicate::True);
    };
    let op = first.as_str().ok_or_else(|| PredicateError::NotAList(short(value)))?;
    let args = &list[1..];
    let arity = |expected: usize| {
        if args.len() == expected {
            Ok(())
        } else {
            Err(PredicateError::Arity {
                op: op.to_string(),
                expected,
                got: args.len(),
            })
        }
    };
    let cmp = |op: CmpOp| -> Result<Predicate, PredicateError> {
        Ok(Predicate::Compare(op, name(&args[0])?, literal(&args[1])))
    };
    match op {
        "true" => arity(0).map(|_| Predicate::True),
        "false" => arity(0).map(|_| Predicate::False),
        "and" | "or" => {
            let parsed = args
                .iter()
                .map(|a| parse_at(a, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if op == "and" {
                Predicate::And(parsed)
            } else {
                Predicate::Or(parsed)
            })
        }
        "not" => {
            arity(1)?;
            Ok(Predicate::Not(Box::new(parse_at(&args[0], depth + 1)?)))
        }
        "exists" => {
            arity(1)?;
            Ok(Predicate::Exists(name(&args[0])?))
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(2)?;
            cmp(match op {
                "eq" => CmpOp::Eq,
                "ne" => CmpOp::Ne,
                "lt" => CmpOp::Lt,
                "le" => CmpOp::Le,
                "gt" => CmpOp::Gt,
                _ => CmpOp::Ge,
            })
        }
        "re_match" => {
            arity(2)?;
            let pattern = literal(&args[1]);
            let pattern = pattern.as_str().ok_or(PredicateError::BadPattern)?;
            let re = regex::RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| PredicateError::Regex(e.to_string()))?;
            Ok(Predicate::ReMatch(name(&args[0])?, re))
        }
        other => Err(PredicateError::UnknownOp(other.chars().take(64).collect())),
    }
}

/// A property name: a string, or `["quote", NAME]`.
fn name(value: &Value) -> Result<String, PredicateError> {
    match literal(value) {
        Value::String(s) => Ok(s),
        other => Err(PredicateError::BadName(short(&other))),
    }
}

/// A literal: any JSON value, with QMF's `["quote", X]` unwrapped.
fn literal(value: &Value) -> Value {
    match value.as_array().map(|a| a.as_slice()) {
        Some([Value::String(q), inner]) if q == "quote" => inner.clone(),
        _ => value.clone(),
    }
}

/// Orders two JSON values of the same kind; `None` across kinds.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let exact = |n: &serde_json::Number| n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
            match (exact(x), exact(y)) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
            }
        }
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj() -> Map<String, Value> {
        json!({"name": "test", "id": 1, "cpuTime": 18446744073709551615u64, "active": true})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    fn eval(p: Value) -> bool {
        Predicate::parse(&p)
            .map(|p| p.matches(&obj()))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn operators() {
        assert!(eval(json!([])));
        assert!(eval(json!(["eq", "name", "test"])));
        assert!(eval(json!(["eq", "name", ["quote", "test"]])));
        assert!(!eval(json!(["eq", "name", "other"])));
        assert!(eval(json!(["ne", "missing", 1])));
        assert!(eval(json!(["lt", "id", 2])));
        assert!(eval(json!(["le", "id", 1])));
        assert!(!eval(json!(["gt", "id", 1])));
        assert!(eval(json!(["ge", "cpuTime", 18446744073709551614u64])));
        assert!(!eval(json!(["eq", "cpuTime", 18446744073709551614u64])));
        assert!(eval(json!(["exists", ["quote", "active"]])));
        assert!(!eval(json!(["exists", "nope"])));
        assert!(eval(json!(["re_match", "name", "^te"])));
        assert!(eval(json!(["and", ["eq", "active", true], ["not", ["eq", "id", 5]]])));
        assert!(eval(json!(["or", ["false"], ["true"]])));
        assert!(!eval(json!(["or"])));
        assert!(!eval(json!(["eq", "id", "1"])), "no cross-type equality");
    }

    #[test]
    fn malformed() {
        for bad in [
            json!("eq"),
            json!(["frobnicate", "a"]),
            json!(["eq", "a"]),
            json!(["eq", 5, 5]),
            json!(["re_match", "name", "("]),
            json!(["not"]),
            json!([7]),
        ] {
            assert!(Predicate::parse(&bad).is_err(), "{bad}");
        }
        let mut deep = json!(["true"]);
        for _ in 0..40 {
            deep = json!(["not", deep]);
        }
        assert_eq!(Predicate::parse(&deep).err(), Some(PredicateError::TooDeep));
    }
}
