//! ExecQuery (DSP0200 §5.3.2.15) for a WQL subset: `SELECT * | p1, p2 FROM
//! <Class> [WHERE <prop> <op> <literal> [AND ...]]` with `=`, `<>`, `<`,
//! `>`, `<=`, `>=` against quoted strings, numbers, TRUE/FALSE or NULL.
//! Other constructs (OR, NOT, functions, joins) are CIM_ERR_INVALID_QUERY;
//! other languages CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED.

use super::{Engine, Params};
use crate::error::{CimError, CimStatus};
use crate::model::{self, path_of};
use crate::schema::ClassDef;
use crate::value::{Instance, Value};
use crate::xml::write;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Op(&'static str),
    Comma,
    Star,
}

fn invalid(msg: impl Into<String>) -> CimError {
    CimError::new(CimStatus::InvalidQuery, msg)
}

fn tokens(text: &str) -> Result<Vec<Token>, CimError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            ',' => {
                chars.next();
                out.push(Token::Comma);
            }
            '*' => {
                chars.next();
                out.push(Token::Star);
            }
            '\'' | '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(ch) => s.push(ch),
                        None => return Err(invalid("unterminated string in query")),
                    }
                }
                out.push(Token::Str(s));
            }
            '=' | '<' | '>' | '!' => {
                chars.next();
                let next = chars.peek().copied();
                let op = match (c, next) {
                    ('<', Some('>')) | ('!', Some('=')) => "<>",
                    ('<', Some('=')) => "<=",
                    ('>', Some('=')) => ">=",
                    ('=', _) => "=",
                    ('<', _) => "<",
                    ('>', _) => ">",
                    _ => return Err(invalid("'!' must be followed by '='")),
                };
                if op.len() == 2 {
                    chars.next();
                }
                out.push(Token::Op(op));
            }
            c if c.is_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '+' => {
                let mut w = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_alphanumeric() || ch == '_' || ch == '-' || ch == '.' || ch == '+' {
                        w.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(w));
            }
            other => return Err(invalid(format!("unexpected '{other}' in query"))),
        }
    }
    Ok(out)
}

#[derive(Debug)]
struct Condition {
    prop: String,
    op: &'static str,
    literal: Option<String>,
}

/// A parsed WQL SELECT: the properties to return (`None` for `*`), the
/// class and the ANDed conditions.
#[derive(Debug)]
pub struct Select {
    pub props: Option<Vec<String>>,
    class: String,
    conditions: Vec<Condition>,
}

impl Select {
    /// Whether `inst` meets every WHERE condition.
    pub fn matches(&self, inst: &Instance) -> bool {
        self.conditions.iter().all(|c| holds(inst, c))
    }
}

/// Checks the language, parses the query and checks its class and
/// properties against the schema; shared by ExecQuery and OpenQueryInstances.
pub fn prepare(
    engine: &Engine,
    ns: &str,
    language: Option<String>,
    text: Option<String>,
) -> Result<(&'static ClassDef, Select), CimError> {
    let language = language.unwrap_or_default();
    if !language.eq_ignore_ascii_case("WQL") {
        return Err(CimError::new(
            CimStatus::QueryLanguageNotSupported,
            format!("query language '{language}' is not supported (use WQL)"),
        ));
    }
    let text = text.ok_or_else(|| CimError::new(CimStatus::InvalidParameter, "the query is missing"))?;
    let select = parse(&text)?;
    let def = engine.class(ns, &select.class)?;
    for name in select
        .props
        .iter()
        .flatten()
        .chain(select.conditions.iter().map(|c| &c.prop))
    {
        if engine.schema.property(def, name).is_none() {
            return Err(invalid(format!("{} has no property {name}", def.name)));
        }
    }
    Ok((def, select))
}

fn is_kw(t: Option<&Token>, kw: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

fn parse(text: &str) -> Result<Select, CimError> {
    let toks = tokens(text)?;
    let mut it = toks.iter().peekable();
    if !is_kw(it.next(), "SELECT") {
        return Err(invalid("a query starts with SELECT"));
    }
    let props = if it.peek() == Some(&&Token::Star) {
        it.next();
        None
    } else {
        let mut list = Vec::new();
        loop {
            match it.next() {
                Some(Token::Word(w)) if !w.eq_ignore_ascii_case("FROM") => list.push(w.clone()),
                _ => return Err(invalid("SELECT needs * or property names")),
            }
            if it.peek() == Some(&&Token::Comma) {
                it.next();
            } else {
                break;
            }
        }
        Some(list)
    };
    if !is_kw(it.next(), "FROM") {
        return Err(invalid("SELECT ... needs FROM <class>"));
    }
    let class = match it.next() {
        Some(Token::Word(w)) => w.clone(),
        _ => return Err(invalid("FROM needs a class name")),
    };
    let mut conditions = Vec::new();
    if it.peek().is_some() {
        if !is_kw(it.next(), "WHERE") {
            return Err(invalid("only WHERE may follow FROM <class> (no joins)"));
        }
        loop {
            let prop = match it.next() {
                Some(Token::Word(w)) => w.clone(),
                _ => return Err(invalid("WHERE needs <property> <operator> <value>")),
            };
            let op = match it.next() {
                Some(Token::Op(op)) => *op,
                _ => return Err(invalid(format!("'{prop}' needs a comparison operator"))),
            };
            let literal = match it.next() {
                Some(Token::Str(s)) => Some(s.clone()),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("NULL") => None,
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("TRUE") => Some("TRUE".into()),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("FALSE") => Some("FALSE".into()),
                Some(Token::Word(w)) if w.parse::<f64>().is_ok() => Some(w.clone()),
                _ => return Err(invalid(format!("'{prop} {op}' needs a literal value"))),
            };
            conditions.push(Condition { prop, op, literal });
            match it.next() {
                None => break,
                Some(t) if is_kw(Some(t), "AND") => continue,
                Some(_) => return Err(invalid("conditions are joined with AND only")),
            }
        }
    }
    Ok(Select {
        props,
        class,
        conditions,
    })
}

fn holds(inst: &Instance, cond: &Condition) -> bool {
    let value = match inst.get(&cond.prop) {
        Some(Value::Scalar(v)) => Some(v.as_str()),
        Some(Value::Null) | None => None,
        Some(_) => return false,
    };
    let (value, literal) = match (value, cond.literal.as_deref()) {
        (None, None) => return cond.op == "=",
        (Some(_), None) => return cond.op == "<>",
        (None, Some(_)) => return false,
        (Some(v), Some(l)) => (v, l),
    };
    let ordering = match (value.parse::<f64>(), literal.parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b),
        _ if literal.eq_ignore_ascii_case("TRUE") || literal.eq_ignore_ascii_case("FALSE") => {
            Some(value.to_ascii_uppercase().cmp(&literal.to_ascii_uppercase()))
        }
        _ => Some(value.cmp(literal)),
    };
    let Some(ordering) = ordering else { return false };
    match cond.op {
        "=" => ordering.is_eq(),
        "<>" => ordering.is_ne(),
        "<" => ordering.is_lt(),
        ">" => ordering.is_gt(),
        "<=" => ordering.is_le(),
        _ => ordering.is_ge(),
    }
}

pub fn exec_query(engine: &Engine, ns: &str, params: Params<'_>) -> Result<String, CimError> {
    let (def, select) = prepare(engine, ns, params.string("QueryLanguage")?, params.string("Query")?)?;
    let snap = engine.core.snapshot();
    let ctx = engine.ctx(&snap, ns);
    let mut out = String::from("<IRETURNVALUE>");
    for concrete in model::concrete_below(&engine.schema, ns, def.name) {
        for inst in model::instances(&ctx, concrete) {
            if !select.matches(&inst) {
                continue;
            }
            out.push_str("<VALUE.OBJECTWITHPATH>");
            write::instance_path(&mut out, &path_of(&engine.schema, ns, &inst), &engine.host);
            write::instance(&mut out, &inst, select.props.as_deref(), &engine.host);
            out.push_str("</VALUE.OBJECTWITHPATH>");
        }
    }
    out.push_str("</IRETURNVALUE>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::CimType;

    #[test]
    fn the_wql_subset() {
        let q = parse("select Name, EnabledState from KVM_ComputerSystem where EnabledState = 2 and Name <> 'x y'")
            .unwrap();
        assert_eq!(q.props, Some(vec!["Name".into(), "EnabledState".into()]));
        assert_eq!(q.class, "KVM_ComputerSystem");
        assert_eq!(q.conditions.len(), 2);
        let inst = Instance::new("KVM_ComputerSystem")
            .with("Name", CimType::String, Value::str("test"))
            .with("EnabledState", CimType::Uint16, Value::num(2));
        assert!(q.conditions.iter().all(|c| holds(&inst, c)));
        let q = parse("SELECT * FROM C WHERE EnabledState >= 3").unwrap();
        assert!(!holds(&inst, &q.conditions[0]));
        let q = parse("SELECT * FROM C WHERE Missing = NULL").unwrap();
        assert!(holds(&inst, &q.conditions[0]));
        for bad in [
            "DELETE FROM C",
            "SELECT FROM C",
            "SELECT * C",
            "SELECT * FROM C WHERE a = 1 OR b = 2",
            "SELECT * FROM C WHERE a",
            "SELECT * FROM C, D",
            "SELECT * FROM C WHERE a = 'open",
        ] {
            assert_eq!(parse(bad).unwrap_err().status, CimStatus::InvalidQuery, "{bad}");
        }
    }
}
