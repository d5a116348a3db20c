//! The class definitions: the DMTF base classes (trimmed to the properties
//! we fill) and libvirt-cim's KVM_* classes, written from the facts of its
//! schema (class names, superclasses, keys, method signatures).

use super::{ClassDef, MethodDef, ParamDef, PropDef, Scope};
use crate::value::CimType::{self, *};

const fn prop(name: &'static str, ty: CimType) -> PropDef {
    PropDef {
        name,
        ty,
        array: false,
        key: false,
        ref_class: None,
        embedded_instance: None,
        value_map: None,
    }
}

const fn key(name: &'static str, ty: CimType) -> PropDef {
    PropDef {
        key: true,
        ..prop(name, ty)
    }
}

const fn arr(name: &'static str, ty: CimType) -> PropDef {
    PropDef {
        array: true,
        ..prop(name, ty)
    }
}

/// A key reference property of an association.
const fn rkey(name: &'static str, class: &'static str) -> PropDef {
    PropDef {
        key: true,
        ref_class: Some(class),
        ..prop(name, Reference)
    }
}

const fn param(name: &'static str, ty: CimType, input: bool, output: bool) -> ParamDef {
    ParamDef {
        name,
        ty,
        array: false,
        input,
        output,
        ref_class: None,
        embedded_instance: None,
    }
}

const fn pref(name: &'static str, class: &'static str, input: bool, output: bool) -> ParamDef {
    ParamDef {
        ref_class: Some(class),
        ..param(name, Reference, input, output)
    }
}

const fn pembedded(name: &'static str, class: &'static str, array: bool) -> ParamDef {
    ParamDef {
        array,
        embedded_instance: Some(class),
        ..param(name, String, true, false)
    }
}

const fn class(name: &'static str, superclass: Option<&'static str>, scope: Scope) -> ClassDef {
    ClassDef {
        name,
        superclass,
        scope,
        is_abstract: false,
        association: false,
        indication: false,
        description: "",
        props: &[],
        methods: &[],
    }
}

const fn abstract_class(name: &'static str, superclass: Option<&'static str>, scope: Scope) -> ClassDef {
    ClassDef {
        is_abstract: true,
        ..class(name, superclass, scope)
    }
}

const fn assoc(name: &'static str, superclass: &'static str, scope: Scope) -> ClassDef {
    ClassDef {
        association: true,
        ..class(name, Some(superclass), scope)
    }
}

const REQUEST_STATE_CHANGE: MethodDef = MethodDef {
    name: "RequestStateChange",
    ret: Uint32,
    params: &[
        param("RequestedState", Uint16, true, false),
        pref("Job", "CIM_ConcreteJob", false, true),
        param("TimeoutPeriod", Datetime, true, false),
    ],
};

const VSMS_METHODS: &[MethodDef] = &[
    MethodDef {
        name: "DefineSystem",
        ret: Uint32,
        params: &[
            pembedded("SystemSettings", "CIM_VirtualSystemSettingData", false),
            pembedded("ResourceSettings", "CIM_ResourceAllocationSettingData", true),
            pref("ReferenceConfiguration", "CIM_VirtualSystemSettingData", true, false),
            pref("ResultingSystem", "CIM_ComputerSystem", false, true),
            pref("Job", "CIM_ConcreteJob", false, true),
        ],
    },
    MethodDef {
        name: "DestroySystem",
        ret: Uint32,
        params: &[
            pref("AffectedSystem", "CIM_ComputerSystem", true, false),
            pref("Job", "CIM_ConcreteJob", false, true),
        ],
    },
    MethodDef {
        name: "AddResourceSettings",
        ret: Uint32,
        params: &[
            pref("AffectedConfiguration", "CIM_VirtualSystemSettingData", true, false),
            pembedded("ResourceSettings", "CIM_ResourceAllocationSettingData", true),
            ParamDef {
                array: true,
                ..pref(
                    "ResultingResourceSettings",
                    "CIM_ResourceAllocationSettingData",
                    false,
                    true,
                )
            },
            pref("Job", "CIM_ConcreteJob", false, true),
        ],
    },
    MethodDef {
        name: "ModifyResourceSettings",
        ret: Uint32,
        params: &[
            pembedded("ResourceSettings", "CIM_ResourceAllocationSettingData", true),
            ParamDef {
                array: true,
                ..pref(
                    "ResultingResourceSettings",
                    "CIM_ResourceAllocationSettingData",
                    false,
                    true,
                )
            },
            pref("Job", "CIM_ConcreteJob", false, true),
        ],
    },
    MethodDef {
        name: "RemoveResourceSettings",
        ret: Uint32,
        params: &[
            ParamDef {
                array: true,
                ..pref("ResourceSettings", "CIM_ResourceAllocationSettingData", true, false)
            },
            pref("Job", "CIM_ConcreteJob", false, true),
        ],
    },
    MethodDef {
        name: "ModifySystemSettings",
        ret: Uint32,
        params: &[
            pembedded("SystemSettings", "CIM_VirtualSystemSettingData", false),
            pref("Job", "CIM_ConcreteJob", false, true),
        ],
    },
];

const RPCS_METHODS: &[MethodDef] = &[
    MethodDef {
        name: "CreateChildResourcePool",
        ret: Uint32,
        params: &[
            param("ElementName", String, true, false),
            pembedded("Settings", "CIM_ResourceAllocationSettingData", true),
            ParamDef {
                array: true,
                ..pref("ParentPool", "CIM_ResourcePool", true, false)
            },
            pref("Pool", "CIM_ResourcePool", false, true),
            pref("Job", "CIM_ConcreteJob", false, true),
        ],
    },
    MethodDef {
        name: "DeleteResourcePool",
        ret: Uint32,
        params: &[
            pref("Pool", "CIM_ResourcePool", true, false),
            pref("Job", "CIM_ConcreteJob", false, true),
        ],
    },
    MethodDef {
        name: "CreateResourceInPool",
        ret: Uint32,
        params: &[
            pembedded("Settings", "CIM_ResourceAllocationSettingData", false),
            pref("Pool", "CIM_ResourcePool", true, false),
            pref("Resource", "CIM_ResourceAllocationSettingData", false, true),
            pref("Job", "CIM_ConcreteJob", false, true),
        ],
    },
    MethodDef {
        name: "DeleteResourceInPool",
        ret: Uint32,
        params: &[
            pembedded("Resource", "CIM_ResourceAllocationSettingData", false),
            pref("Pool", "CIM_ResourcePool", true, false),
            pref("Job", "CIM_ConcreteJob", false, true),
        ],
    },
];

const MANAGED_ELEMENT: &[PropDef] = &[
    prop("Caption", String),
    prop("Description", String),
    prop("ElementName", String),
];

const COMPUTER_SYSTEM: &[PropDef] = &[
    key("CreationClassName", String),
    key("Name", String),
    prop("NameFormat", String),
    prop("EnabledState", Uint16),
    prop("RequestedState", Uint16),
    prop("HealthState", Uint16),
    arr("OperationalStatus", Uint16),
    prop("OperatingStatus", Uint16),
    prop("EnabledDefault", Uint16),
    arr("OtherIdentifyingInfo", String),
    arr("IdentifyingDescriptions", String),
];

const LOGICAL_DEVICE: &[PropDef] = &[
    key("SystemCreationClassName", String),
    key("SystemName", String),
    key("CreationClassName", String),
    key("DeviceID", String),
    prop("EnabledState", Uint16),
];

const SERVICE: &[PropDef] = &[
    key("SystemCreationClassName", String),
    key("SystemName", String),
    key("CreationClassName", String),
    key("Name", String),
    prop("EnabledState", Uint16),
    prop("Started", Boolean),
];

const RASD: &[PropDef] = &[
    key("InstanceID", String),
    prop("ResourceType", Uint16),
    prop("OtherResourceType", String),
    prop("ResourceSubType", String),
    prop("PoolID", String),
    prop("Address", String),
    prop("AllocationUnits", String),
    prop("VirtualQuantity", Uint64),
    prop("Reservation", Uint64),
    prop("Limit", Uint64),
    prop("Weight", Uint32),
];

const POOL: &[PropDef] = &[
    key("InstanceID", String),
    prop("PoolID", String),
    prop("Primordial", Boolean),
    prop("ResourceType", Uint16),
    prop("OtherResourceType", String),
    prop("ResourceSubType", String),
    prop("Capacity", Uint64),
    prop("Reserved", Uint64),
    prop("AllocationUnits", String),
];

/// Every class, parents before children.
pub static CLASSES: &[ClassDef] = &[
    // DMTF base classes (both namespaces, so hierarchy queries work in each).
    ClassDef {
        props: MANAGED_ELEMENT,
        description: "root of the managed element hierarchy",
        ..abstract_class("CIM_ManagedElement", None, Scope::Both)
    },
    ClassDef {
        props: COMPUTER_SYSTEM,
        methods: &[REQUEST_STATE_CHANGE],
        description: "a computer system",
        ..abstract_class("CIM_ComputerSystem", Some("CIM_ManagedElement"), Scope::Both)
    },
    ClassDef {
        props: &[key("InstanceID", String)],
        description: "settings of a managed element",
        ..abstract_class("CIM_SettingData", Some("CIM_ManagedElement"), Scope::Both)
    },
    ClassDef {
        props: &[
            prop("VirtualSystemIdentifier", String),
            prop("VirtualSystemType", String),
            prop("AutomaticShutdownAction", Uint16),
            prop("AutomaticRecoveryAction", Uint16),
        ],
        description: "configuration of a virtual system",
        ..abstract_class("CIM_VirtualSystemSettingData", Some("CIM_SettingData"), Scope::Virt)
    },
    ClassDef {
        props: RASD,
        description: "a resource allocation of a virtual system",
        ..abstract_class(
            "CIM_ResourceAllocationSettingData",
            Some("CIM_SettingData"),
            Scope::Virt,
        )
    },
    ClassDef {
        props: LOGICAL_DEVICE,
        description: "a device of a system",
        ..abstract_class("CIM_LogicalDevice", Some("CIM_ManagedElement"), Scope::Virt)
    },
    ClassDef {
        props: POOL,
        description: "a pool of resources",
        ..abstract_class("CIM_ResourcePool", Some("CIM_ManagedElement"), Scope::Virt)
    },
    ClassDef {
        props: SERVICE,
        description: "a service of a system",
        ..abstract_class("CIM_Service", Some("CIM_ManagedElement"), Scope::Both)
    },
    ClassDef {
        methods: VSMS_METHODS,
        description: "defines and destroys virtual systems",
        ..abstract_class("CIM_VirtualSystemManagementService", Some("CIM_Service"), Scope::Virt)
    },
    ClassDef {
        description: "manages resource pools",
        ..abstract_class("CIM_ResourcePoolConfigurationService", Some("CIM_Service"), Scope::Virt)
    },
    ClassDef {
        props: &[key("InstanceID", String)],
        description: "capabilities of a managed element",
        ..abstract_class("CIM_Capabilities", Some("CIM_ManagedElement"), Scope::Virt)
    },
    ClassDef {
        props: &[arr("RequestedStatesSupported", Uint16)],
        description: "state changes an element supports",
        ..abstract_class(
            "CIM_EnabledLogicalElementCapabilities",
            Some("CIM_Capabilities"),
            Scope::Virt,
        )
    },
    ClassDef {
        props: &[
            prop("ResourceType", Uint16),
            prop("OtherResourceType", String),
            prop("ResourceSubType", String),
        ],
        description: "what can be allocated from a resource pool",
        ..abstract_class("CIM_AllocationCapabilities", Some("CIM_Capabilities"), Scope::Virt)
    },
    ClassDef {
        props: &[
            arr("VirtualSystemTypesSupported", String),
            arr("SynchronousMethodsSupported", Uint16),
        ],
        description: "what a virtual system management service supports",
        ..abstract_class(
            "CIM_VirtualSystemManagementCapabilities",
            Some("CIM_Capabilities"),
            Scope::Virt,
        )
    },
    // Interop namespace.
    ClassDef {
        props: &[
            key("SystemCreationClassName", String),
            key("SystemName", String),
            key("ObjectManagerCreationClassName", String),
            key("ObjectManagerName", String),
            key("CreationClassName", String),
            key("Name", String),
            prop("ClassInfo", Uint16),
        ],
        description: "a namespace of the object manager",
        ..class("CIM_Namespace", Some("CIM_ManagedElement"), Scope::Interop)
    },
    ClassDef {
        description: "the CIM server",
        ..class("CIM_ObjectManager", Some("CIM_Service"), Scope::Interop)
    },
    ClassDef {
        props: &[
            key("InstanceID", String),
            PropDef {
                value_map: Some((&["1", "2", "11"], &["Other", "DMTF", "SNIA"])),
                ..prop("RegisteredOrganization", Uint16)
            },
            prop("OtherRegisteredOrganization", String),
            prop("RegisteredName", String),
            prop("RegisteredVersion", String),
            arr("AdvertiseTypes", Uint16),
        ],
        description: "a management profile the server implements",
        ..class("CIM_RegisteredProfile", Some("CIM_ManagedElement"), Scope::Interop)
    },
    ClassDef {
        description: "a profile libvirt-cim's model implements",
        ..class("KVM_RegisteredProfile", Some("CIM_RegisteredProfile"), Scope::Interop)
    },
    // Indication subscriptions (DSP1054), in the interop namespace.
    ClassDef {
        props: &[
            key("SystemCreationClassName", String),
            key("SystemName", String),
            key("CreationClassName", String),
            key("Name", String),
            prop("Query", String),
            prop("QueryLanguage", String),
            prop("SourceNamespace", String),
            arr("SourceNamespaces", String),
            prop("IndividualSubscriptionSupported", Boolean),
        ],
        description: "which indications a subscription delivers (WQL SELECT ... FROM class)",
        ..class("CIM_IndicationFilter", Some("CIM_ManagedElement"), Scope::Interop)
    },
    ClassDef {
        props: &[
            key("SystemCreationClassName", String),
            key("SystemName", String),
            key("CreationClassName", String),
            key("Name", String),
            prop("Destination", String),
            PropDef {
                value_map: Some((&["1", "2", "3"], &["Other", "Permanent", "Transient"])),
                ..prop("PersistenceType", Uint16)
            },
            prop("OtherPersistenceType", String),
            PropDef {
                value_map: Some((&["1", "2", "3"], &["Other", "CIM-XML", "SM CLP"])),
                ..prop("Protocol", Uint16)
            },
        ],
        description: "where indications are delivered",
        ..abstract_class("CIM_ListenerDestination", Some("CIM_ManagedElement"), Scope::Interop)
    },
    ClassDef {
        description: "a CIM-XML listener (ExportIndication over HTTP)",
        ..class(
            "CIM_ListenerDestinationCIMXML",
            Some("CIM_ListenerDestination"),
            Scope::Interop,
        )
    },
    ClassDef {
        description: "the older name of a listener destination",
        ..abstract_class("CIM_IndicationHandler", Some("CIM_ListenerDestination"), Scope::Interop)
    },
    ClassDef {
        description: "a CIM-XML listener (older class name)",
        ..class(
            "CIM_IndicationHandlerCIMXML",
            Some("CIM_IndicationHandler"),
            Scope::Interop,
        )
    },
    ClassDef {
        props: &[
            rkey("Filter", "CIM_IndicationFilter"),
            rkey("Handler", "CIM_ListenerDestination"),
            PropDef {
                value_map: Some((
                    &["0", "1", "2", "3", "4"],
                    &["Unknown", "Other", "Ignore", "Disable", "Remove"],
                )),
                ..prop("OnFatalErrorPolicy", Uint16)
            },
            PropDef {
                value_map: Some((
                    &["0", "1", "2", "3", "4"],
                    &["Unknown", "Other", "Enabled", "Enabled Degraded", "Disabled"],
                )),
                ..prop("SubscriptionState", Uint16)
            },
            prop("SubscriptionStartTime", Datetime),
            prop("DeliveryRetryAttempts", Uint16),
            prop("DeliveryRetryInterval", Uint32),
        ],
        description: "a filter's indications go to a listener",
        ..assoc("CIM_IndicationSubscription", "CIM_ManagedElement", Scope::Interop)
    },
    // Indications (their instances only travel to listeners).
    ClassDef {
        props: &[
            prop("IndicationIdentifier", String),
            prop("IndicationTime", Datetime),
            arr("CorrelatedIndications", String),
            prop("PerceivedSeverity", Uint16),
        ],
        description: "something happened",
        indication: true,
        ..abstract_class("CIM_Indication", None, Scope::Both)
    },
    ClassDef {
        props: &[
            PropDef {
                embedded_instance: Some("CIM_ManagedElement"),
                ..prop("SourceInstance", String)
            },
            prop("SourceInstanceModelPath", String),
            prop("SourceInstanceHost", String),
        ],
        description: "something happened to an instance",
        indication: true,
        ..abstract_class("CIM_InstIndication", Some("CIM_Indication"), Scope::Both)
    },
    ClassDef {
        description: "an instance was created",
        indication: true,
        ..abstract_class("CIM_InstCreation", Some("CIM_InstIndication"), Scope::Both)
    },
    ClassDef {
        description: "an instance was deleted",
        indication: true,
        ..abstract_class("CIM_InstDeletion", Some("CIM_InstIndication"), Scope::Both)
    },
    ClassDef {
        props: &[PropDef {
            embedded_instance: Some("CIM_ManagedElement"),
            ..prop("PreviousInstance", String)
        }],
        description: "an instance changed",
        indication: true,
        ..abstract_class("CIM_InstModification", Some("CIM_InstIndication"), Scope::Both)
    },
    ClassDef {
        description: "a guest was defined",
        indication: true,
        ..class(
            "KVM_ComputerSystemCreatedIndication",
            Some("CIM_InstCreation"),
            Scope::Both,
        )
    },
    ClassDef {
        description: "a guest was undefined",
        indication: true,
        ..class(
            "KVM_ComputerSystemDeletedIndication",
            Some("CIM_InstDeletion"),
            Scope::Both,
        )
    },
    ClassDef {
        description: "a guest changed state or definition",
        indication: true,
        ..class(
            "KVM_ComputerSystemModifiedIndication",
            Some("CIM_InstModification"),
            Scope::Both,
        )
    },
    // The virt namespace: systems and settings.
    ClassDef {
        props: &[prop("UUID", String)],
        description: "a KVM guest",
        ..class("KVM_ComputerSystem", Some("CIM_ComputerSystem"), Scope::Virt)
    },
    ClassDef {
        description: "the host the guests run on",
        ..class("KVM_HostSystem", Some("CIM_ComputerSystem"), Scope::Virt)
    },
    ClassDef {
        props: &[
            prop("UUID", String),
            prop("AutoStart", Uint16),
            prop("ClockOffset", Uint16),
            arr("BootDevices", String),
            prop("Emulator", String),
            prop("Arch", String),
            prop("Machine", String),
            prop("Kernel", String),
            prop("Ramdisk", String),
            prop("CommandLine", String),
        ],
        description: "the configuration of a KVM guest",
        ..class(
            "KVM_VirtualSystemSettingData",
            Some("CIM_VirtualSystemSettingData"),
            Scope::Virt,
        )
    },
    ClassDef {
        description: "a resource allocation of a KVM guest",
        ..abstract_class(
            "KVM_ResourceAllocationSettingData",
            Some("CIM_ResourceAllocationSettingData"),
            Scope::Virt,
        )
    },
    ClassDef {
        description: "virtual processors of a guest",
        ..class(
            "KVM_ProcResourceAllocationSettingData",
            Some("KVM_ResourceAllocationSettingData"),
            Scope::Virt,
        )
    },
    ClassDef {
        description: "memory of a guest",
        ..class(
            "KVM_MemResourceAllocationSettingData",
            Some("KVM_ResourceAllocationSettingData"),
            Scope::Virt,
        )
    },
    ClassDef {
        props: &[
            prop("VirtualDevice", String),
            prop("EmulatedType", Uint16),
            prop("BusType", String),
            prop("readonly", Boolean),
            prop("shareable", Boolean),
            prop("DriverName", String),
            prop("DriverType", String),
            prop("DriverCache", String),
        ],
        description: "a disk of a guest",
        ..class(
            "KVM_DiskResourceAllocationSettingData",
            Some("KVM_ResourceAllocationSettingData"),
            Scope::Virt,
        )
    },
    ClassDef {
        props: &[
            prop("NetworkType", String),
            prop("NetworkName", String),
            prop("VirtualDevice", String),
            prop("SourceDevice", String),
        ],
        description: "a network interface of a guest",
        ..class(
            "KVM_NetResourceAllocationSettingData",
            Some("KVM_ResourceAllocationSettingData"),
            Scope::Virt,
        )
    },
    ClassDef {
        props: &[prop("KeyMap", String), prop("IsIPv6Only", Boolean)],
        description: "a graphical console of a guest",
        ..class(
            "KVM_GraphicsResourceAllocationSettingData",
            Some("KVM_ResourceAllocationSettingData"),
            Scope::Virt,
        )
    },
    ClassDef {
        props: &[prop("BusType", String)],
        description: "an input device of a guest",
        ..class(
            "KVM_InputResourceAllocationSettingData",
            Some("KVM_ResourceAllocationSettingData"),
            Scope::Virt,
        )
    },
    ClassDef {
        props: &[
            prop("SourceType", Uint16),
            prop("SourcePath", String),
            prop("TargetType", Uint16),
            prop("TargetPort", String),
        ],
        description: "a character console of a guest",
        ..class(
            "KVM_ConsoleResourceAllocationSettingData",
            Some("KVM_ResourceAllocationSettingData"),
            Scope::Virt,
        )
    },
    ClassDef {
        props: &[prop("Type", String), prop("Model", String), prop("Index", Uint64)],
        description: "a controller of a guest",
        ..class(
            "KVM_ControllerResourceAllocationSettingData",
            Some("KVM_ResourceAllocationSettingData"),
            Scope::Virt,
        )
    },
    ClassDef {
        props: &[
            prop("VolumeName", String),
            prop("Path", String),
            PropDef {
                value_map: Some((&["0", "1", "2"], &["Unknown", "raw", "qcow2"])),
                ..prop("FormatType", Uint16)
            },
            prop("Capacity", Uint64),
            prop("AllocationQuantity", Uint64),
        ],
        description: "a storage volume of a disk pool (CreateResourceInPool)",
        ..class(
            "KVM_StorageVolumeResourceAllocationSettingData",
            Some("KVM_ResourceAllocationSettingData"),
            Scope::Virt,
        )
    },
    // Devices.
    ClassDef {
        description: "a virtual processor",
        ..class("KVM_Processor", Some("CIM_LogicalDevice"), Scope::Virt)
    },
    ClassDef {
        props: &[
            prop("BlockSize", Uint64),
            prop("NumberOfBlocks", Uint64),
            prop("ConsumableBlocks", Uint64),
        ],
        description: "the memory of a guest",
        ..class("KVM_Memory", Some("CIM_LogicalDevice"), Scope::Virt)
    },
    ClassDef {
        props: &[
            prop("Name", String),
            prop("BlockSize", Uint64),
            prop("NumberOfBlocks", Uint64),
        ],
        description: "a disk of a guest",
        ..class("KVM_LogicalDisk", Some("CIM_LogicalDevice"), Scope::Virt)
    },
    ClassDef {
        props: &[
            prop("PermanentAddress", String),
            arr("NetworkAddresses", String),
            prop("LinkTechnology", Uint16),
        ],
        description: "a network port of a guest",
        ..class("KVM_NetworkPort", Some("CIM_LogicalDevice"), Scope::Virt)
    },
    ClassDef {
        props: &[prop("VideoProcessor", String)],
        description: "a graphical console of a guest",
        ..class("KVM_DisplayController", Some("CIM_LogicalDevice"), Scope::Virt)
    },
    ClassDef {
        props: &[prop("PointingType", Uint16)],
        description: "a pointing device of a guest",
        ..class("KVM_PointingDevice", Some("CIM_LogicalDevice"), Scope::Virt)
    },
    ClassDef {
        props: &[prop("ProtocolSupported", Uint16), prop("ControllerModel", String)],
        description: "a controller of a guest",
        ..class("KVM_Controller", Some("CIM_LogicalDevice"), Scope::Virt)
    },
    // Pools.
    ClassDef {
        description: "the host's processors",
        ..class("KVM_ProcessorPool", Some("CIM_ResourcePool"), Scope::Virt)
    },
    ClassDef {
        description: "the host's memory",
        ..class("KVM_MemoryPool", Some("CIM_ResourcePool"), Scope::Virt)
    },
    ClassDef {
        props: &[prop("Path", String)],
        description: "a storage pool",
        ..class("KVM_DiskPool", Some("CIM_ResourcePool"), Scope::Virt)
    },
    ClassDef {
        description: "a virtual network",
        ..class("KVM_NetworkPool", Some("CIM_ResourcePool"), Scope::Virt)
    },
    ClassDef {
        description: "graphical consoles",
        ..class("KVM_GraphicsPool", Some("CIM_ResourcePool"), Scope::Virt)
    },
    ClassDef {
        description: "input devices",
        ..class("KVM_InputPool", Some("CIM_ResourcePool"), Scope::Virt)
    },
    ClassDef {
        description: "controllers",
        ..class("KVM_ControllerPool", Some("CIM_ResourcePool"), Scope::Virt)
    },
    // Services and capabilities.
    ClassDef {
        props: &[
            prop("Changeset", String),
            prop("Revision", String),
            prop("Release", String),
            prop("LibvirtVersion", String),
        ],
        description: "defines and destroys KVM guests",
        ..class(
            "KVM_VirtualSystemManagementService",
            Some("CIM_VirtualSystemManagementService"),
            Scope::Virt,
        )
    },
    ClassDef {
        description: "manages KVM resource pools",
        methods: RPCS_METHODS,
        ..class(
            "KVM_ResourcePoolConfigurationService",
            Some("CIM_ResourcePoolConfigurationService"),
            Scope::Virt,
        )
    },
    ClassDef {
        description: "state changes a guest supports",
        ..class(
            "KVM_EnabledLogicalElementCapabilities",
            Some("CIM_EnabledLogicalElementCapabilities"),
            Scope::Virt,
        )
    },
    ClassDef {
        description: "what the management service supports",
        ..class(
            "KVM_VirtualSystemManagementCapabilities",
            Some("CIM_VirtualSystemManagementCapabilities"),
            Scope::Virt,
        )
    },
    ClassDef {
        description: "what can be allocated from one resource pool (InstanceID = the pool's)",
        ..class(
            "KVM_AllocationCapabilities",
            Some("CIM_AllocationCapabilities"),
            Scope::Virt,
        )
    },
    // Associations: DMTF bases, then libvirt-cim's.
    ClassDef {
        props: &[
            rkey("GroupComponent", "CIM_ManagedElement"),
            rkey("PartComponent", "CIM_ManagedElement"),
        ],
        description: "a whole and its part",
        ..ClassDef {
            is_abstract: true,
            ..assoc("CIM_Component", "CIM_ManagedElement", Scope::Both)
        }
    },
    ClassDef {
        props: &[
            rkey("Antecedent", "CIM_ManagedElement"),
            rkey("Dependent", "CIM_ManagedElement"),
        ],
        description: "one element depends on another",
        ..ClassDef {
            is_abstract: true,
            ..assoc("CIM_Dependency", "CIM_ManagedElement", Scope::Both)
        }
    },
    ClassDef {
        props: &[
            rkey("ManagedElement", "CIM_ManagedElement"),
            rkey("SettingData", "CIM_SettingData"),
        ],
        description: "an element and its settings",
        ..ClassDef {
            is_abstract: true,
            ..assoc("CIM_ElementSettingData", "CIM_ManagedElement", Scope::Virt)
        }
    },
    ClassDef {
        props: &[
            rkey("ManagedElement", "CIM_ManagedElement"),
            rkey("SettingData", "CIM_SettingData"),
        ],
        description: "an element and the settings of its current state",
        ..ClassDef {
            is_abstract: true,
            ..assoc("CIM_SettingsDefineState", "CIM_ManagedElement", Scope::Virt)
        }
    },
    ClassDef {
        props: &[
            rkey("ManagedElement", "CIM_ManagedElement"),
            rkey("Capabilities", "CIM_Capabilities"),
        ],
        description: "an element and its capabilities",
        ..ClassDef {
            is_abstract: true,
            ..assoc("CIM_ElementCapabilities", "CIM_ManagedElement", Scope::Virt)
        }
    },
    ClassDef {
        props: &[
            rkey("GroupComponent", "CIM_Capabilities"),
            rkey("PartComponent", "CIM_SettingData"),
            prop("PropertyPolicy", Uint16),
            prop("ValueRole", Uint16),
            prop("ValueRange", Uint16),
        ],
        description: "capabilities and the settings that describe them (default, minimum, maximum, increment)",
        ..ClassDef {
            is_abstract: true,
            ..assoc("CIM_SettingsDefineCapabilities", "CIM_Component", Scope::Virt)
        }
    },
    ClassDef {
        props: &[
            rkey("ConformantStandard", "CIM_RegisteredProfile"),
            rkey("ManagedElement", "CIM_ManagedElement"),
        ],
        description: "an element conforms to a profile",
        ..ClassDef {
            is_abstract: true,
            ..assoc("CIM_ElementConformsToProfile", "CIM_ManagedElement", Scope::Both)
        }
    },
    ClassDef {
        props: &[
            rkey("GroupComponent", "CIM_ComputerSystem"),
            rkey("PartComponent", "CIM_LogicalDevice"),
        ],
        description: "a guest and its devices",
        ..assoc("KVM_SystemDevice", "CIM_Component", Scope::Virt)
    },
    ClassDef {
        props: &[
            rkey("GroupComponent", "CIM_VirtualSystemSettingData"),
            rkey("PartComponent", "CIM_ResourceAllocationSettingData"),
        ],
        description: "a guest's configuration and its resource allocations",
        ..assoc("KVM_VirtualSystemSettingDataComponent", "CIM_Component", Scope::Virt)
    },
    ClassDef {
        description: "a guest (or device) and its settings",
        ..assoc("KVM_SettingsDefineState", "CIM_SettingsDefineState", Scope::Virt)
    },
    ClassDef {
        description: "a guest and its configuration",
        ..assoc("KVM_ElementSettingData", "CIM_ElementSettingData", Scope::Virt)
    },
    ClassDef {
        props: &[
            rkey("Antecedent", "CIM_ComputerSystem"),
            rkey("Dependent", "CIM_ComputerSystem"),
        ],
        description: "a guest runs on the host",
        ..assoc("KVM_HostedDependency", "CIM_Dependency", Scope::Virt)
    },
    ClassDef {
        props: &[
            rkey("Antecedent", "CIM_ResourcePool"),
            rkey("Dependent", "CIM_LogicalDevice"),
        ],
        description: "a device is allocated from a pool",
        ..assoc("KVM_ElementAllocatedFromPool", "CIM_Dependency", Scope::Virt)
    },
    ClassDef {
        props: &[
            rkey("Antecedent", "CIM_ResourcePool"),
            rkey("Dependent", "CIM_ResourceAllocationSettingData"),
        ],
        description: "a resource allocation comes from a pool",
        ..assoc("KVM_ResourceAllocationFromPool", "CIM_Dependency", Scope::Virt)
    },
    ClassDef {
        props: &[
            rkey("GroupComponent", "CIM_ComputerSystem"),
            rkey("PartComponent", "CIM_ResourcePool"),
        ],
        description: "the host holds a pool",
        ..assoc("KVM_HostedResourcePool", "CIM_Component", Scope::Virt)
    },
    ClassDef {
        props: &[
            rkey("Antecedent", "CIM_ComputerSystem"),
            rkey("Dependent", "CIM_Service"),
        ],
        description: "the host runs a service",
        ..assoc("KVM_HostedService", "CIM_Dependency", Scope::Virt)
    },
    ClassDef {
        description: "an element and its capabilities",
        ..assoc("KVM_ElementCapabilities", "CIM_ElementCapabilities", Scope::Virt)
    },
    ClassDef {
        description: "a pool's allocation capabilities and their setting templates",
        ..assoc(
            "KVM_SettingsDefineCapabilities",
            "CIM_SettingsDefineCapabilities",
            Scope::Virt,
        )
    },
    ClassDef {
        description: "an element conforms to a registered profile",
        ..assoc(
            "KVM_ElementConformsToProfile",
            "CIM_ElementConformsToProfile",
            Scope::Both,
        )
    },
];
