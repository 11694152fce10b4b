//! What the audit log records of each admin call: its action and how it ended.

/// An admin call as the audit log names it: the AdminService RPC, or what the service
/// does on its own (`Bootstrap`, `SyncBuiltInRoles`, `ImportLegacy`, `GenerateDataset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
pub enum Action {
    AddGroupMember,
    AddTenantTag,
    ApplyInstance,
    ApproveAccessRequest,
    Bootstrap,
    CheckUserAccess,
    CreateGroup,
    CreateRole,
    CreateRoleAssignment,
    CreateTag,
    CreateTenant,
    CreateUser,
    DeleteGroup,
    DeleteRole,
    DeleteRoleAssignment,
    DeleteTag,
    DeleteTenant,
    DeleteUser,
    ExportInstance,
    GenerateDataset,
    GetGroup,
    GetMyAccess,
    GetPreferences,
    GetRole,
    GetTenant,
    GetUser,
    ImportLegacy,
    ListAccessRequests,
    ListAuditEvents,
    ListGroupMembers,
    ListGroups,
    ListPermissions,
    ListPersons,
    ListRoleAssignments,
    ListRoles,
    ListTags,
    ListTenants,
    ListUserGroups,
    ListUsers,
    PromotePerson,
    RejectAccessRequest,
    RemoveGroupMember,
    RemoveTenantTag,
    SetUserDisabled,
    StartImpersonation,
    SubmitAccessRequest,
    SyncBuiltInRoles,
    UpdateGroup,
    UpdatePreferences,
    UpdateRole,
    UpdateTag,
    UpdateTenant,
    UpdateUser,
    UpsertPerson,
    UpsertResource,
}

/// How an audited call ended: a refusal keeps its reason in the row's detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Refused,
}

impl Action {
    /// The name written into the audit row and accepted by ListAuditEvents' filter.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_rpc_names_and_lower_case_outcomes() {
        assert_eq!(
            Action::CreateRoleAssignment.as_str(),
            "CreateRoleAssignment"
        );
        assert_eq!(Outcome::Refused.as_str(), "refused");
        assert_eq!(Outcome::Succeeded.as_str(), "succeeded");
        assert_eq!(
            "CreateRoleAssignment".parse(),
            Ok(Action::CreateRoleAssignment)
        );
        assert_eq!("refused".parse(), Ok(Outcome::Refused));
    }
}
