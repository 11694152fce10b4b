//! Reads of users, of persons (known, not yet users) and of access requests.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::{FromRow, first, rows};
use crate::model::{
    AccessRequest, AccessRequestId, AccessRequestStatus, Person, PersonId, TenantId, User, UserId,
    UserOrigin,
};
use crate::store::StoreError;
use crate::store::entity::{access_request, person, user};

keyed! {
    UserId => User, "user";
    PersonId => Person, "person";
    AccessRequestId => AccessRequest, "access request";
}

/// A user or a person: a row that carries an Azure object id, found by
/// [`find_by_object_id`].
pub trait WithObjectId: FromRow {
    fn object_id_column() -> <Self::Entity as EntityTrait>::Column;
}

impl WithObjectId for User {
    fn object_id_column() -> user::Column {
        user::Column::AzureObjectId
    }
}

impl WithObjectId for Person {
    fn object_id_column() -> person::Column {
        person::Column::AzureObjectId
    }
}

/// The user, or the person, with this Azure object id.
pub async fn find_by_object_id<T: WithObjectId>(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<T>, StoreError> {
    first(db, T::Entity::find().filter(T::object_id_column().eq(id))).await
}

/// Which users to list; every set field narrows.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Only users of these tenants (the ones the reader may see); None: any tenant. The
    /// admin plane sets it from the actor's view.
    pub tenants: Option<Vec<TenantId>>,
    pub query: Option<String>,
    pub disabled: Option<bool>,
    pub origin: Option<UserOrigin>,
    /// Continue after this user id.
    pub after: Option<UserId>,
    pub limit: u64,
}

/// Users matching the filter, by id.
pub async fn users<C: ConnectionTrait>(
    db: &C,
    filter: &UserFilter,
) -> Result<Vec<User>, StoreError> {
    let mut query = user::Entity::find();
    if let Some(tenants) = &filter.tenants {
        query = query.filter(user::Column::TenantId.is_in(tenants.iter().map(|t| t.0)));
    }
    if let Some(text) = &filter.query {
        let pattern = format!("%{}%", text.to_lowercase());
        let lower = |column: user::Column| {
            use sea_orm::sea_query::{Expr, ExprTrait, Func};
            Expr::expr(Func::lower(Expr::col(column))).like(pattern.clone())
        };
        query = query.filter(
            Condition::any()
                .add(lower(user::Column::Email))
                .add(lower(user::Column::FirstName))
                .add(lower(user::Column::LastName)),
        );
    }
    if let Some(disabled) = filter.disabled {
        query = query.filter(user::Column::Disabled.eq(disabled));
    }
    if let Some(origin) = filter.origin {
        query = query.filter(user::Column::Origin.eq(origin.as_str()));
    }
    if let Some(after) = filter.after {
        query = query.filter(user::Column::Id.gt(after.0));
    }
    rows(db, query.order_by_asc(user::Column::Id).limit(filter.limit)).await
}

/// The persons of these tenants (None: of every tenant), by email.
pub async fn persons<C: ConnectionTrait>(
    db: &C,
    tenants: Option<&[TenantId]>,
) -> Result<Vec<Person>, StoreError> {
    let mut query = person::Entity::find();
    if let Some(tenants) = tenants {
        query = query.filter(person::Column::TenantId.is_in(tenants.iter().map(|t| t.0)));
    }
    rows(db, query.order_by_asc(person::Column::Email)).await
}

/// A pending request for this Azure object id, if any.
pub async fn pending_access_request<C: ConnectionTrait>(
    db: &C,
    azure_object_id: Uuid,
) -> Result<Option<AccessRequest>, StoreError> {
    let query = access_request::Entity::find()
        .filter(access_request::Column::AzureObjectId.eq(azure_object_id))
        .filter(access_request::Column::Status.eq(AccessRequestStatus::Pending.as_str()));
    first(db, query).await
}

/// How many access requests wait for a decision.
pub async fn pending_access_requests<C: ConnectionTrait>(db: &C) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(access_request::Entity::find()
        .filter(access_request::Column::Status.eq(AccessRequestStatus::Pending.as_str()))
        .count(db)
        .await?)
}

/// The requests of these tenants (None: of every tenant) with this status, oldest first.
pub async fn access_requests<C: ConnectionTrait>(
    db: &C,
    tenants: Option<&[TenantId]>,
    status: AccessRequestStatus,
) -> Result<Vec<AccessRequest>, StoreError> {
    let mut query = access_request::Entity::find();
    if let Some(tenants) = tenants {
        query = query.filter(access_request::Column::TenantId.is_in(tenants.iter().map(|t| t.0)));
    }
    let query = query
        .filter(access_request::Column::Status.eq(status.as_str()))
        .order_by_asc(access_request::Column::RequestedAt);
    rows(db, query).await
}
