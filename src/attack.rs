//! The MITRE ATT&CK catalogue domreg maps its rules to (ATT&CK v18 IDs).
//!
//! Constant data only; [`crate::risk`] decides which rules fire.

/// An ATT&CK tactic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tactic {
    /// `TA0042`.
    pub id: &'static str,
    /// `Resource Development`.
    pub name: &'static str,
    /// The tactic's page on attack.mitre.org.
    pub reference: &'static str,
}

/// An ATT&CK technique, optionally narrowed to a sub-technique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Technique {
    /// Parent technique id, `T1583`.
    pub id: &'static str,
    /// Parent technique name, `Acquire Infrastructure`.
    pub name: &'static str,
    /// The parent technique's page.
    pub reference: &'static str,
    /// The sub-technique, if any.
    pub subtechnique: Option<Subtechnique>,
    /// The tactic this use of the technique serves.
    pub tactic: &'static Tactic,
}

/// An ATT&CK sub-technique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subtechnique {
    /// `T1583.001`.
    pub id: &'static str,
    /// `Domains`.
    pub name: &'static str,
    /// The sub-technique's page.
    pub reference: &'static str,
}

impl Technique {
    /// The most specific id: the sub-technique's when there is one.
    pub fn full_id(&self) -> &'static str {
        self.subtechnique.map_or(self.id, |s| s.id)
    }

    /// `Acquire Infrastructure: Domains`.
    pub fn full_name(&self) -> String {
        match self.subtechnique {
            Some(s) => format!("{}: {}", self.name, s.name),
            None => self.name.to_string(),
        }
    }
}

/// The framework name ECS expects in `threat.framework`.
pub const FRAMEWORK: &str = "MITRE ATT&CK";

/// TA0042 Resource Development.
pub const RESOURCE_DEVELOPMENT: Tactic = Tactic {
    id: "TA0042",
    name: "Resource Development",
    reference: "https://attack.mitre.org/tactics/TA0042/",
};
/// TA0011 Command and Control.
pub const COMMAND_AND_CONTROL: Tactic = Tactic {
    id: "TA0011",
    name: "Command and Control",
    reference: "https://attack.mitre.org/tactics/TA0011/",
};
/// TA0043 Reconnaissance.
pub const RECONNAISSANCE: Tactic = Tactic {
    id: "TA0043",
    name: "Reconnaissance",
    reference: "https://attack.mitre.org/tactics/TA0043/",
};

/// T1583.001 Acquire Infrastructure: Domains.
pub const ACQUIRE_DOMAINS: Technique = Technique {
    id: "T1583",
    name: "Acquire Infrastructure",
    reference: "https://attack.mitre.org/techniques/T1583/",
    subtechnique: Some(Subtechnique {
        id: "T1583.001",
        name: "Domains",
        reference: "https://attack.mitre.org/techniques/T1583/001/",
    }),
    tactic: &RESOURCE_DEVELOPMENT,
};
/// T1584.001 Compromise Infrastructure: Domains.
pub const COMPROMISE_DOMAINS: Technique = Technique {
    id: "T1584",
    name: "Compromise Infrastructure",
    reference: "https://attack.mitre.org/techniques/T1584/",
    subtechnique: Some(Subtechnique {
        id: "T1584.001",
        name: "Domains",
        reference: "https://attack.mitre.org/techniques/T1584/001/",
    }),
    tactic: &RESOURCE_DEVELOPMENT,
};
/// T1665 Hide Infrastructure.
pub const HIDE_INFRASTRUCTURE: Technique = Technique {
    id: "T1665",
    name: "Hide Infrastructure",
    reference: "https://attack.mitre.org/techniques/T1665/",
    subtechnique: None,
    tactic: &COMMAND_AND_CONTROL,
};
/// T1590.001 Gather Victim Network Information: Domain Properties.
pub const DOMAIN_PROPERTIES: Technique = Technique {
    id: "T1590",
    name: "Gather Victim Network Information",
    reference: "https://attack.mitre.org/techniques/T1590/",
    subtechnique: Some(Subtechnique {
        id: "T1590.001",
        name: "Domain Properties",
        reference: "https://attack.mitre.org/techniques/T1590/001/",
    }),
    tactic: &RECONNAISSANCE,
};
/// T1596.002 Search Open Technical Databases: WHOIS.
pub const SEARCH_WHOIS: Technique = Technique {
    id: "T1596",
    name: "Search Open Technical Databases",
    reference: "https://attack.mitre.org/techniques/T1596/",
    subtechnique: Some(Subtechnique {
        id: "T1596.002",
        name: "WHOIS",
        reference: "https://attack.mitre.org/techniques/T1596/002/",
    }),
    tactic: &RECONNAISSANCE,
};
