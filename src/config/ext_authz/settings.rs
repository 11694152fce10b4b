//! The `[ext_authz]` section as the configuration file writes it (serde), before
//! `RouteMap::compile` checks it.

use serde::{Deserialize, Serialize};

/// What the subject's value is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    #[default]
    AzureObjectId,
    UserId,
}

/// What a request that no route matches gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    #[default]
    Deny,
    Allow,
}

/// The section as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExtAuthzSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_metadata: Option<Vec<String>>,
    #[serde(default)]
    pub subject_kind: SubjectKind,
    #[serde(default)]
    pub unmatched: Unmatched,
    #[serde(default)]
    pub routes: Vec<RouteSettings>,
}

/// One route as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub path: String,
    pub permission: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceSettings>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSettings {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}
