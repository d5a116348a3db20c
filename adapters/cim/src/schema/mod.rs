//! Class definitions the server serves through GetClass/EnumerateClasses and
//! uses to form instance paths: our own description of libvirt-cim's KVM_*
//! model and the DMTF base classes it stands on ([`classes`]), looked up by
//! name and namespace in a [`Schema`].

pub mod classes;

use crate::value::CimType;

/// Namespaces served.
pub const NS_VIRT: &str = "root/virt";
pub const NS_INTEROP: &str = "root/interop";

/// Which namespaces hold a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Virt,
    Interop,
    Both,
}

impl Scope {
    pub fn contains(self, namespace: &str) -> bool {
        match self {
            Scope::Virt => namespace == NS_VIRT,
            Scope::Interop => namespace == NS_INTEROP,
            Scope::Both => namespace == NS_VIRT || namespace == NS_INTEROP,
        }
    }
}

#[derive(Debug)]
pub struct PropDef {
    pub name: &'static str,
    pub ty: CimType,
    pub array: bool,
    pub key: bool,
    pub ref_class: Option<&'static str>,
    pub embedded_instance: Option<&'static str>,
    /// `ValueMap` and `Values` qualifiers of a value-mapped property.
    pub value_map: Option<(&'static [&'static str], &'static [&'static str])>,
}

#[derive(Debug)]
pub struct ParamDef {
    pub name: &'static str,
    pub ty: CimType,
    pub array: bool,
    pub input: bool,
    pub output: bool,
    pub ref_class: Option<&'static str>,
    pub embedded_instance: Option<&'static str>,
}

#[derive(Debug)]
pub struct MethodDef {
    pub name: &'static str,
    pub ret: CimType,
    pub params: &'static [ParamDef],
}

#[derive(Debug)]
pub struct ClassDef {
    pub name: &'static str,
    pub superclass: Option<&'static str>,
    pub scope: Scope,
    pub is_abstract: bool,
    pub association: bool,
    pub indication: bool,
    pub description: &'static str,
    pub props: &'static [PropDef],
    pub methods: &'static [MethodDef],
}

/// The class registry.
pub struct Schema {
    classes: &'static [ClassDef],
}

impl Default for Schema {
    fn default() -> Schema {
        Schema {
            classes: classes::CLASSES,
        }
    }
}

impl Schema {
    pub fn get(&self, namespace: &str, name: &str) -> Option<&'static ClassDef> {
        self.classes
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name) && c.scope.contains(namespace))
    }

    pub fn all(&self) -> &'static [ClassDef] {
        self.classes
    }

    /// Classes in `namespace`, in definition order (parents first).
    pub fn in_namespace<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'static ClassDef> + 'a {
        self.classes.iter().filter(move |c| c.scope.contains(namespace))
    }

    /// Whether `name` is `ancestor` or derives from it.
    pub fn is_a(&self, name: &str, ancestor: &str) -> bool {
        let mut current = Some(name);
        let mut hops = 0;
        while let Some(class) = current {
            if class.eq_ignore_ascii_case(ancestor) {
                return true;
            }
            hops += 1;
            if hops > 32 {
                return false;
            }
            current = self
                .classes
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(class))
                .and_then(|c| c.superclass);
        }
        false
    }

    /// Superclass chain from the root down to `def`.
    fn chain(&self, def: &'static ClassDef) -> Vec<&'static ClassDef> {
        let mut chain = vec![def];
        let mut current = def.superclass;
        while let Some(name) = current {
            match self.classes.iter().find(|c| c.name == name) {
                Some(parent) if chain.len() < 32 => {
                    chain.push(parent);
                    current = parent.superclass;
                }
                _ => break,
            }
        }
        chain.reverse();
        chain
    }

    /// Every property with the class that defined it (a subclass's own
    /// definition overrides an inherited one of the same name).
    pub fn all_properties(&self, def: &'static ClassDef) -> Vec<(&'static str, &'static PropDef)> {
        let mut out: Vec<(&'static str, &'static PropDef)> = Vec::new();
        for class in self.chain(def) {
            for prop in class.props {
                match out.iter_mut().find(|(_, p)| p.name.eq_ignore_ascii_case(prop.name)) {
                    Some(slot) => *slot = (slot.0, prop),
                    None => out.push((class.name, prop)),
                }
            }
        }
        out
    }

    pub fn all_methods(&self, def: &'static ClassDef) -> Vec<(&'static str, &'static MethodDef)> {
        let mut out: Vec<(&'static str, &'static MethodDef)> = Vec::new();
        for class in self.chain(def) {
            for method in class.methods {
                match out.iter_mut().find(|(_, m)| m.name.eq_ignore_ascii_case(method.name)) {
                    Some(slot) => *slot = (slot.0, method),
                    None => out.push((class.name, method)),
                }
            }
        }
        out
    }

    pub fn property(&self, def: &'static ClassDef, name: &str) -> Option<&'static PropDef> {
        self.all_properties(def)
            .into_iter()
            .map(|(_, p)| p)
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    pub fn method(&self, def: &'static ClassDef, name: &str) -> Option<&'static MethodDef> {
        self.all_methods(def)
            .into_iter()
            .map(|(_, m)| m)
            .find(|m| m.name.eq_ignore_ascii_case(name))
    }

    /// Names of the key properties, in definition order.
    pub fn keys(&self, def: &'static ClassDef) -> Vec<&'static PropDef> {
        self.all_properties(def)
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| p.key)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_superclass_exists_and_keys_are_defined() {
        let schema = Schema::default();
        for class in schema.all() {
            if let Some(sup) = class.superclass {
                assert!(
                    schema.all().iter().any(|c| c.name == sup),
                    "{}: no superclass {sup}",
                    class.name
                );
            }
            if !class.is_abstract && !class.indication {
                assert!(!schema.keys(class).is_empty(), "{} has no keys", class.name);
            }
        }
        assert!(schema.is_a("KVM_ComputerSystem", "CIM_ManagedElement"));
        assert!(!schema.is_a("KVM_HostSystem", "KVM_ComputerSystem"));
    }
}
