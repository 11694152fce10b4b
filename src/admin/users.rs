//! Users, and the persons they may be promoted from.

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::engine::{AccessFacts, EffectiveAccess, Refusal, RefusalReason};
use crate::model::permissions::{PERSONS_MANAGE, PERSONS_VIEW, USERS_MANAGE, USERS_VIEW};
use crate::model::{
    Action, EMAIL_MAX, PERSON_NAME_MAX, Person, PersonId, QUERY_MAX, TenantId, User, UserId,
    UserOrigin, optional_text, parse_uuid, required_text, shown,
};
use crate::store::{self, UserFilter};

use super::{Actor, Admin, AdminError, Changed, PageSize, Result, absent, existing, next_page};

/// Users per page when none is asked for, and the most a page holds.
const PAGE: PageSize = PageSize {
    default: 100,
    max: 1000,
};

/// Who someone is: as typed by an administrator, synced from the identity provider, or
/// given with an access request.
#[derive(Clone, Debug)]
pub struct Identity {
    pub tenant_id: TenantId,
    pub azure_object_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// A user's new names, email and expiry.
#[derive(Clone, Debug)]
pub struct UserUpdate {
    pub user_id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub expires_at: Option<i64>,
}

pub(super) fn email(value: &str) -> Result<String> {
    let email = required_text("email", value, EMAIL_MAX)?;
    if !email.contains('@') {
        return Err(AdminError::InvalidArgument(format!(
            "`email` must be an address such as `name@example.com`, got `{}`",
            shown(&email)
        )));
    }
    Ok(email)
}

/// ALREADY_EXISTS when a user has this Azure object id; `instead` says what to do then.
pub(super) async fn no_user_with(
    write: &store::Write<'_>,
    object_id: Uuid,
    instead: &str,
) -> Result<()> {
    let user = store::find_by_object_id::<User>(write.txn(), object_id).await?;
    absent(
        user,
        format!("azure object id `{object_id}` is already a user{instead}"),
    )
}

/// A new user of an identity, after the GUID check and the email check.
pub(super) fn new_user(identity: &Identity, origin: UserOrigin) -> Result<User> {
    Ok(User {
        id: UserId::random(),
        tenant_id: identity.tenant_id,
        azure_object_id: parse_uuid("azure_object_id", &identity.azure_object_id)?,
        email: email(&identity.email)?,
        first_name: optional_text("first_name", &identity.first_name, PERSON_NAME_MAX)?,
        last_name: optional_text("last_name", &identity.last_name, PERSON_NAME_MAX)?,
        disabled: false,
        expires_at: None,
        origin,
    })
}

impl Admin {
    /// Creates a user by hand: `users.manage` on their tenant; the Azure object id must
    /// pass the GUID check and be unique.
    pub async fn create_user(&self, actor: &Actor, new: Identity) -> Result<(User, u64)> {
        let user = new_user(&new, UserOrigin::Manual)?;
        self.write(
            actor,
            Action::CreateUser,
            new.email,
            async |write, actor| {
                existing(write.txn(), new.tenant_id).await?;
                self.require_on_tenant(actor, USERS_MANAGE, new.tenant_id)?;
                self.insert_user(write, &user).await?;
                let changed = Changed::new(user.id, None, user.email.clone());
                Ok((user, changed))
            },
        )
        .await
    }

    /// Inserts a user after the uniqueness check, inside the caller's write.
    pub(crate) async fn insert_user(
        &self,
        write: &mut store::Write<'_>,
        user: &User,
    ) -> Result<()> {
        no_user_with(write, user.azure_object_id, "").await?;
        write.insert_user(user).await?;
        Ok(())
    }

    /// A user: `users.view` on their tenant.
    pub async fn get_user(&self, actor: &Actor, id: UserId) -> Result<User> {
        self.visible(actor, Action::GetUser, id).await
    }

    /// The users of tenants where the actor holds `users.view` (only `tenant`'s, when
    /// given) that `filter` matches, by id, one page at a time: `filter.tenants` is set
    /// here, and a `limit` of 0 asks for the default page.
    pub async fn list_users(
        &self,
        actor: &Actor,
        tenant: Option<TenantId>,
        mut filter: UserFilter,
    ) -> Result<(Vec<User>, Option<UserId>)> {
        let text = optional_text(
            "query",
            filter.query.as_deref().unwrap_or_default(),
            QUERY_MAX,
        )?;
        filter.query = (!text.is_empty()).then_some(text);
        filter.tenants = self.tenants_where(actor, USERS_VIEW, tenant);
        filter.limit = PAGE.limit(filter.limit);
        let users = store::users(self.store.db(), &filter).await?;
        let next = next_page(&users, filter.limit, |last| last.id);
        Ok((users, next))
    }

    /// Disables or enables a user: `users.manage` on their tenant, and never a user who
    /// holds a system permission the actor lacks.
    pub async fn set_user_disabled(
        &self,
        actor: &Actor,
        user_id: UserId,
        disabled: bool,
    ) -> Result<(User, u64)> {
        self.write(
            actor,
            Action::SetUserDisabled,
            user_id,
            async |write, actor| {
                let (mut user, access) = self
                    .require_manage_user(write.txn(), actor, user_id)
                    .await?;
                if user.disabled && !disabled {
                    // Enabling hands back every allow the user holds.
                    self.judge(actor, &self.reaches_of_user(&access))?;
                }
                let before = format!("disabled={}", user.disabled);
                write.set_user_disabled(user_id, disabled).await?;
                user.disabled = disabled;
                let changed = Changed::new(user_id, Some(before), format!("disabled={disabled}"));
                Ok((user, changed))
            },
        )
        .await
    }

    /// Changes a user's names, email and expiry: as for disabling them.
    pub async fn update_user(&self, actor: &Actor, update: UserUpdate) -> Result<(User, u64)> {
        let email = email(&update.email)?;
        self.write(
            actor,
            Action::UpdateUser,
            update.user_id,
            async |write, actor| {
                let (old, access) = self
                    .require_manage_user(write.txn(), actor, update.user_id)
                    .await?;
                let user = User {
                    email,
                    first_name: optional_text("first_name", &update.first_name, PERSON_NAME_MAX)?,
                    last_name: optional_text("last_name", &update.last_name, PERSON_NAME_MAX)?,
                    expires_at: update.expires_at,
                    ..old.clone()
                };
                let later = |at: Option<i64>| at.unwrap_or(i64::MAX);
                if later(user.expires_at) > later(old.expires_at) {
                    // A later expiry keeps, or makes, every allow of the user live longer:
                    // a grant to them, which nobody makes to themselves.
                    if actor.is_self(user.id) {
                        return Err(AdminError::PermissionDenied(Refusal::new(
                            RefusalReason::SelfElevation,
                            format!(
                                "actor `{}` cannot move their own expiry later: keeping oneself active longer raises one's own access; ask another administrator",
                                user.id
                            ),
                        )));
                    }
                    self.judge(actor, &self.reaches_of_user(&access))?;
                }
                write.update_user(&user).await?;
                let changed =
                    Changed::new(user.id, Some(describe_user(&old)), describe_user(&user));
                Ok((user, changed))
            },
        )
        .await
    }

    /// Deletes a user with their direct assignments and memberships: as for disabling
    /// them; nobody deletes themselves.
    pub async fn delete_user(&self, actor: &Actor, id: UserId) -> Result<u64> {
        if actor.is_self(id) {
            return Err(AdminError::FailedPrecondition(
                "nobody deletes themselves; ask another administrator".into(),
            ));
        }
        self.change(actor, Action::DeleteUser, id, async |write, actor| {
            let (user, _) = self.require_manage_user(write.txn(), actor, id).await?;
            write.delete_user(id).await?;
            Ok(Changed::new(id, Some(describe_user(&user)), String::new()))
        })
        .await
    }

    /// Acting on a user: `users.manage` on their tenant, and the user holds no system
    /// permission the actor lacks.
    async fn require_manage_user<C: ConnectionTrait>(
        &self,
        db: &C,
        actor: &Actor,
        id: UserId,
    ) -> Result<(User, EffectiveAccess)> {
        let user = existing(db, id).await?;
        self.require_on_tenant(actor, USERS_MANAGE, user.tenant_id)?;
        let access = store::access_facts(db, id)
            .await?
            .map(AccessFacts::compile)
            .ok_or_else(|| AdminError::NotFound(format!("user `{id}` does not exist")))?;
        // Judged as if active: a disabled administrator is still one to be enabled.
        self.require_not_more_powerful(actor, &access.as_active())?;
        Ok((user, access))
    }

    /// Creates or updates the person with this Azure object id: `persons.manage` on their
    /// tenant, and on the tenant they leave.
    pub async fn upsert_person(&self, actor: &Actor, identity: Identity) -> Result<(Person, u64)> {
        let azure_object_id = parse_uuid("azure_object_id", &identity.azure_object_id)?;
        let email = email(&identity.email)?;
        self.write(
            actor,
            Action::UpsertPerson,
            identity.email,
            async |write, actor| {
                existing(write.txn(), identity.tenant_id).await?;
                self.require_on_tenant(actor, PERSONS_MANAGE, identity.tenant_id)?;
                let old = store::find_by_object_id::<Person>(write.txn(), azure_object_id).await?;
                if let Some(old) = &old {
                    self.require_on_tenant(actor, PERSONS_MANAGE, old.tenant_id)?;
                }
                let person = Person {
                    id: old.as_ref().map_or_else(PersonId::random, |p| p.id),
                    tenant_id: identity.tenant_id,
                    azure_object_id,
                    email,
                    first_name: optional_text("first_name", &identity.first_name, PERSON_NAME_MAX)?,
                    last_name: optional_text("last_name", &identity.last_name, PERSON_NAME_MAX)?,
                    user_id: old.as_ref().and_then(|p| p.user_id),
                };
                write.save_person(&person).await?;
                let changed = Changed::new(
                    person.id,
                    old.map(|p| describe_person(&p)),
                    describe_person(&person),
                );
                Ok((person, changed))
            },
        )
        .await
    }

    /// The persons of tenants where the actor holds `persons.view` (only `only`'s, when
    /// given).
    pub async fn list_persons(&self, actor: &Actor, only: Option<TenantId>) -> Result<Vec<Person>> {
        let tenants = self.tenants_where(actor, PERSONS_VIEW, only);
        Ok(store::persons(self.store.db(), tenants.as_deref()).await?)
    }

    /// Makes a person a user of their tenant: `users.manage` there.
    pub async fn promote_person(&self, actor: &Actor, id: PersonId) -> Result<(User, u64)> {
        self.write(actor, Action::PromotePerson, id, async |write, actor| {
            let mut person = existing(write.txn(), id).await?;
            self.require_on_tenant(actor, USERS_MANAGE, person.tenant_id)?;
            let user = User {
                id: UserId::random(),
                tenant_id: person.tenant_id,
                azure_object_id: person.azure_object_id,
                email: person.email.clone(),
                first_name: person.first_name.clone(),
                last_name: person.last_name.clone(),
                disabled: false,
                expires_at: None,
                origin: UserOrigin::Person,
            };
            self.insert_user(write, &user).await?;
            person.user_id = Some(user.id);
            write.save_person(&person).await?;
            let changed = Changed::new(user.id, None, describe_user(&user));
            Ok((user, changed))
        })
        .await
    }
}

pub(super) fn describe_user(user: &User) -> String {
    format!(
        "{} ({} {}) tenant={} disabled={} expires_at={}",
        user.email,
        user.first_name,
        user.last_name,
        user.tenant_id,
        user.disabled,
        user.expires_at.map_or("never".into(), |t| t.to_string())
    )
}

fn describe_person(person: &Person) -> String {
    format!(
        "{} ({} {}) tenant={}",
        person.email, person.first_name, person.last_name, person.tenant_id
    )
}
