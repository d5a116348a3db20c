//! The WQL subset indication filters may use (DSP0202 for CQL, WQL as
//! pywbem and cimtest write it): `SELECT * FROM <IndicationClass>`,
//! optionally `WHERE SourceInstance ISA <Class>`. Anything else is refused
//! when the filter is created, so a filter never silently matches nothing.

use crate::error::{CimError, CimStatus};
use crate::schema::{Schema, NS_VIRT};

/// A parsed filter query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The indication class selected (its subclasses match too).
    pub from: String,
    /// `SourceInstance ISA` restriction.
    pub source_isa: Option<String>,
}

fn bad(msg: impl Into<String>) -> CimError {
    CimError::new(CimStatus::InvalidParameter, msg)
}

/// Parses `query` in `language` (WQL, or DMTF:CQL/CQL with the same subset).
pub fn parse(schema: &Schema, language: &str, query: &str) -> Result<Query, CimError> {
    if !["WQL", "DMTF:CQL", "CQL"]
        .iter()
        .any(|l| l.eq_ignore_ascii_case(language.trim()))
    {
        return Err(CimError::new(
            CimStatus::QueryLanguageNotSupported,
            format!("filter query language '{language}' is not supported (use WQL)"),
        ));
    }
    let words: Vec<&str> = query.split_whitespace().collect();
    let keyword = |idx: usize, want: &str| words.get(idx).is_some_and(|w| w.eq_ignore_ascii_case(want));
    if !keyword(0, "SELECT") || !keyword(2, "FROM") || words.get(1) != Some(&"*") {
        return Err(bad(format!(
            "filter query '{query}' is not of the form SELECT * FROM <indication class> [WHERE SourceInstance ISA <class>]"
        )));
    }
    let from = words
        .get(3)
        .ok_or_else(|| bad(format!("filter query '{query}' names no class")))?;
    let def = schema.get(NS_VIRT, from).filter(|d| d.indication).ok_or_else(|| {
        bad(format!(
            "'{from}' in filter query is not an indication class of this server"
        ))
    })?;
    let source_isa = match &words[4..] {
        [] => None,
        [w, s, isa, class]
            if w.eq_ignore_ascii_case("WHERE")
                && s.eq_ignore_ascii_case("SourceInstance")
                && isa.eq_ignore_ascii_case("ISA") =>
        {
            let class = class.trim_matches(|c| c == '\'' || c == '"');
            if schema.get(NS_VIRT, class).is_none() {
                return Err(bad(format!("class '{class}' in filter query does not exist")));
            }
            Some(class.to_string())
        }
        _ => {
            return Err(CimError::new(
                CimStatus::NotSupported,
                format!("filter query '{query}': only WHERE SourceInstance ISA <class> is supported"),
            ))
        }
    };
    Ok(Query {
        from: def.name.to_string(),
        source_isa,
    })
}

impl Query {
    /// Whether an indication of `class` about an instance of `source_class` passes.
    pub fn matches(&self, schema: &Schema, class: &str, source_class: &str) -> bool {
        schema.is_a(class, &self.from) && self.source_isa.as_deref().is_none_or(|c| schema.is_a(source_class, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supported_subset() {
        let schema = Schema::default();
        let q = parse(&schema, "WQL", "SELECT * FROM KVM_ComputerSystemCreatedIndication").unwrap();
        assert!(q.matches(&schema, "KVM_ComputerSystemCreatedIndication", "KVM_ComputerSystem"));
        assert!(!q.matches(&schema, "KVM_ComputerSystemDeletedIndication", "KVM_ComputerSystem"));
        let q = parse(
            &schema,
            "wql",
            "select * from CIM_InstModification where SourceInstance isa KVM_ComputerSystem",
        )
        .unwrap();
        assert!(q.matches(&schema, "KVM_ComputerSystemModifiedIndication", "KVM_ComputerSystem"));
        assert!(!q.matches(&schema, "KVM_ComputerSystemModifiedIndication", "KVM_HostSystem"));
        let q = parse(&schema, "DMTF:CQL", "SELECT * FROM CIM_Indication").unwrap();
        assert!(q.matches(&schema, "KVM_ComputerSystemDeletedIndication", "KVM_ComputerSystem"));

        let status = |lang: &str, text: &str| parse(&schema, lang, text).unwrap_err().status;
        assert_eq!(
            status("XPath", "SELECT * FROM CIM_Indication"),
            CimStatus::QueryLanguageNotSupported
        );
        assert_eq!(
            status("WQL", "SELECT * FROM KVM_ComputerSystem"),
            CimStatus::InvalidParameter
        );
        assert_eq!(
            status("WQL", "SELECT Name FROM CIM_Indication"),
            CimStatus::InvalidParameter
        );
        assert_eq!(status("WQL", "DELETE FROM CIM_Indication"), CimStatus::InvalidParameter);
        assert_eq!(status("WQL", "SELECT * FROM"), CimStatus::InvalidParameter);
        assert_eq!(
            status("WQL", "SELECT * FROM CIM_Indication WHERE PerceivedSeverity = 2"),
            CimStatus::NotSupported
        );
    }
}
