//! Membership queries: the one module that reads and writes `plans`, `plan_products`,
//! `subscriptions` and the user's `stripe_customer_id`. Synchronous: called inside
//! `Db::run`/`Db::write`.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared_types::{
    BillingInterval, Currency, PlanId, ProductId, ProductRef, ProductStatus, SubscriptionId,
    SubscriptionStatus, UserId,
};

use crate::db::DbConnection;
use crate::schema::{bundle_items, plan_products, plans, products, subscriptions, users};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = plans)]
pub struct PlanRow {
    pub id: PlanId,
    pub name: String,
    pub description: String,
    pub billing_interval: BillingInterval,
    pub price_cents: i64,
    pub currency: Currency,
    pub all_products: bool,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = subscriptions, treat_none_as_null = true)]
pub struct SubscriptionRow {
    pub id: SubscriptionId,
    pub stripe_subscription_id: String,
    pub user_id: UserId,
    pub plan_id: PlanId,
    pub status: SubscriptionStatus,
    pub current_period_start: Option<NaiveDateTime>,
    pub current_period_end: Option<NaiveDateTime>,
    pub cancel_at_period_end: bool,
    pub past_due_since: Option<NaiveDateTime>,
    pub ended_at: Option<NaiveDateTime>,
    pub synced_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The moment access is judged at, and the oldest failed-renewal time still within the grace.
#[derive(Debug, Clone, Copy)]
pub struct AccessAt {
    pub now: NaiveDateTime,
    pub grace_cutoff: NaiveDateTime,
}

impl AccessAt {
    pub fn new(now: NaiveDateTime, grace_secs: i64) -> Self {
        Self {
            now,
            grace_cutoff: now - chrono::TimeDelta::seconds(grace_secs),
        }
    }
}

/// The rule, as SQL: active or trialing (until the period's end once cancelled at period end),
/// or past due within the grace (a missing time compares as NULL: no access).
#[diesel::dsl::auto_type]
fn grants(now: NaiveDateTime, grace_cutoff: NaiveDateTime) -> _ {
    let active: SubscriptionStatus = SubscriptionStatus::Active;
    let trialing: SubscriptionStatus = SubscriptionStatus::Trialing;
    let past_due: SubscriptionStatus = SubscriptionStatus::PastDue;
    let renewing = subscriptions::cancel_at_period_end
        .eq(false)
        .or(subscriptions::current_period_end.assume_not_null().gt(now));
    let paid = subscriptions::status
        .eq(active)
        .or(subscriptions::status.eq(trialing))
        .and(renewing);
    let grace = subscriptions::status.eq(past_due).and(
        subscriptions::past_due_since
            .assume_not_null()
            .gt(grace_cutoff),
    );
    paid.or(grace)
}

/// The same rule in Rust, for a row already read.
pub fn row_grants(row: &SubscriptionRow, at: AccessAt) -> bool {
    match row.status {
        SubscriptionStatus::Active | SubscriptionStatus::Trialing => {
            !row.cancel_at_period_end || row.current_period_end.is_some_and(|end| end > at.now)
        }
        SubscriptionStatus::PastDue => row.past_due_since.is_some_and(|t| t > at.grace_cutoff),
        _ => false,
    }
}

/// When access ends unless something changes (None while it renews, or once it is over).
pub fn access_until(row: &SubscriptionRow, grace_secs: i64) -> Option<NaiveDateTime> {
    match row.status {
        SubscriptionStatus::Active | SubscriptionStatus::Trialing if row.cancel_at_period_end => {
            row.current_period_end
        }
        SubscriptionStatus::PastDue => row
            .past_due_since
            .map(|t| t + chrono::TimeDelta::seconds(grace_secs)),
        _ => None,
    }
}

/// Whether one of `user`'s memberships unlocks `product` now, as a boolean expression to embed
/// in another statement (the download check asks it with the product and the role). Whether
/// the product is published is the caller's to add: it has the row.
#[diesel::dsl::auto_type(no_type_alias)]
pub(crate) fn covers<'a>(
    user: &'a UserId,
    product: &'a ProductId,
    now: NaiveDateTime,
    grace_cutoff: NaiveDateTime,
) -> _ {
    let bundles = bundle_items::table
        .filter(bundle_items::product_id.eq(product))
        .select(bundle_items::bundle_id);
    let listing = plan_products::table
        .filter(
            plan_products::product_id
                .eq(product)
                .or(plan_products::product_id.eq_any(bundles)),
        )
        .select(plan_products::plan_id);
    let live: grants = grants(now, grace_cutoff);
    diesel::dsl::exists(
        subscriptions::table
            .inner_join(plans::table)
            .filter(subscriptions::user_id.eq(user))
            .filter(live)
            .filter(plans::all_products.or(plans::id.eq_any(listing))),
    )
}

/// What `user`'s memberships unlock now: every published product, or these products (the
/// items of a bundle among them included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Unlocked {
    #[default]
    Nothing,
    Some(std::collections::HashSet<ProductId>),
    Everything,
}

impl Unlocked {
    /// Whether it unlocks `product` (published products only).
    pub fn includes(&self, product: &ProductId, status: ProductStatus) -> bool {
        status == ProductStatus::Published
            && match self {
                Unlocked::Nothing => false,
                Unlocked::Some(ids) => ids.contains(product),
                Unlocked::Everything => true,
            }
    }
}

pub fn unlocked(conn: &mut DbConnection, user: &UserId, at: AccessAt) -> QueryResult<Unlocked> {
    let plans_now: Vec<(PlanId, bool)> = subscriptions::table
        .inner_join(plans::table)
        .filter(subscriptions::user_id.eq(user))
        .filter(grants(at.now, at.grace_cutoff))
        .select((plans::id, plans::all_products))
        .load(conn)?;
    if plans_now.is_empty() {
        return Ok(Unlocked::Nothing);
    }
    if plans_now.iter().any(|(_, all)| *all) {
        return Ok(Unlocked::Everything);
    }
    let ids: Vec<PlanId> = plans_now.into_iter().map(|(id, _)| id).collect();
    let listed: Vec<ProductId> = plan_products::table
        .filter(plan_products::plan_id.eq_any(&ids))
        .select(plan_products::product_id)
        .load(conn)?;
    let items: Vec<ProductId> = bundle_items::table
        .filter(bundle_items::bundle_id.eq_any(&listed))
        .select(bundle_items::product_id)
        .load(conn)?;
    Ok(Unlocked::Some(listed.into_iter().chain(items).collect()))
}

// Plans.

pub fn list_plans(conn: &mut DbConnection, active_only: bool) -> QueryResult<Vec<PlanRow>> {
    let mut query = plans::table.select(PlanRow::as_select()).into_boxed();
    if active_only {
        query = query
            .filter(plans::active.eq(true))
            .order_by((plans::price_cents.asc(), plans::id.asc()));
    } else {
        query = query.order_by((plans::created_at.desc(), plans::id.desc()));
    }
    query.load(conn)
}

pub fn find_plan(conn: &mut DbConnection, id: &PlanId) -> QueryResult<Option<PlanRow>> {
    plans::table
        .find(id)
        .select(PlanRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_plan(conn: &mut DbConnection, row: &PlanRow) -> QueryResult<()> {
    diesel::insert_into(plans::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn update_plan(conn: &mut DbConnection, row: &PlanRow) -> QueryResult<()> {
    diesel::update(plans::table.find(&row.id))
        .set(row)
        .execute(conn)
        .map(|_| ())
}

/// Replaces the plan's product list (None: it unlocks every product, and keeps no list).
pub fn set_plan_products(
    conn: &mut DbConnection,
    plan: &PlanId,
    products: Option<&[ProductId]>,
) -> QueryResult<()> {
    diesel::delete(plan_products::table.filter(plan_products::plan_id.eq(plan))).execute(conn)?;
    let mut seen = std::collections::HashSet::new();
    for id in products.unwrap_or_default() {
        if seen.insert(id) {
            diesel::insert_into(plan_products::table)
                .values((
                    plan_products::plan_id.eq(plan),
                    plan_products::product_id.eq(id),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// The products each of `plans` lists, in title order.
pub fn products_of(
    conn: &mut DbConnection,
    ids: &[PlanId],
) -> QueryResult<Vec<(PlanId, ProductRef)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(PlanId, ProductId, String, String)> = plan_products::table
        .inner_join(products::table)
        .filter(plan_products::plan_id.eq_any(ids))
        .order_by((products::title.asc(), products::id.asc()))
        .select((
            plan_products::plan_id,
            products::id,
            products::slug,
            products::title,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(plan, id, slug, title)| (plan, ProductRef { id, slug, title }))
        .collect())
}

/// Which of `ids` exist.
pub fn existing_products(
    conn: &mut DbConnection,
    ids: &[ProductId],
) -> QueryResult<std::collections::HashSet<ProductId>> {
    products::table
        .filter(products::id.eq_any(ids))
        .select(products::id)
        .load::<ProductId>(conn)
        .map(|v| v.into_iter().collect())
}

/// Subscriptions ever made to the plan.
pub fn subscriptions_to(conn: &mut DbConnection, plan: &PlanId) -> QueryResult<i64> {
    subscriptions::table
        .filter(subscriptions::plan_id.eq(plan))
        .count()
        .get_result(conn)
}

/// Members with access now, per plan.
pub fn members_now(
    conn: &mut DbConnection,
    ids: &[PlanId],
    at: AccessAt,
) -> QueryResult<HashMap<PlanId, i64>> {
    let rows: Vec<(PlanId, i64)> = subscriptions::table
        .inner_join(plans::table)
        .filter(subscriptions::plan_id.eq_any(ids))
        .filter(grants(at.now, at.grace_cutoff))
        .group_by(subscriptions::plan_id)
        .select((subscriptions::plan_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

pub fn delete_plan(conn: &mut DbConnection, id: &PlanId) -> QueryResult<bool> {
    diesel::delete(plan_products::table.filter(plan_products::plan_id.eq(id))).execute(conn)?;
    Ok(diesel::delete(plans::table.find(id)).execute(conn)? > 0)
}

// Customers.

pub fn stripe_customer(conn: &mut DbConnection, user: &UserId) -> QueryResult<Option<String>> {
    users::table
        .find(user)
        .select(users::stripe_customer_id)
        .first::<Option<String>>(conn)
        .optional()
        .map(Option::flatten)
}

/// Keeps `customer` as the user's unless they have one already; the one kept.
pub fn keep_stripe_customer(
    conn: &mut DbConnection,
    user: &UserId,
    customer: &str,
) -> QueryResult<Option<String>> {
    diesel::update(
        users::table
            .find(user)
            .filter(users::stripe_customer_id.is_null()),
    )
    .set(users::stripe_customer_id.eq(customer))
    .execute(conn)?;
    stripe_customer(conn, user)
}

pub fn user_of_customer(conn: &mut DbConnection, customer: &str) -> QueryResult<Option<UserId>> {
    users::table
        .filter(users::stripe_customer_id.eq(customer))
        .select(users::id)
        .first(conn)
        .optional()
}

// Subscriptions.

pub fn find_by_stripe(conn: &mut DbConnection, id: &str) -> QueryResult<Option<SubscriptionRow>> {
    subscriptions::table
        .filter(subscriptions::stripe_subscription_id.eq(id))
        .select(SubscriptionRow::as_select())
        .first(conn)
        .optional()
}

/// Stores a state read from Stripe unless a later read was stored already: the row before, if
/// there was one, and whether this one was applied. A new subscription is inserted (a
/// concurrent insert of the same one makes this an update); an existing row is locked first, so
/// concurrent reads apply in the order they were made.
pub fn store(
    conn: &mut DbConnection,
    row: &SubscriptionRow,
) -> QueryResult<(Option<SubscriptionRow>, bool)> {
    let insert = diesel::insert_into(subscriptions::table)
        .values(row)
        .on_conflict(subscriptions::stripe_subscription_id)
        .do_nothing();
    let inserted = crate::execute_on_backend!(conn, insert)?;
    if inserted == 1 {
        return Ok((None, true));
    }
    // An update that changes nothing takes the row lock (PostgreSQL; SQLite's writer holds the
    // database already).
    diesel::update(
        subscriptions::table
            .filter(subscriptions::stripe_subscription_id.eq(&row.stripe_subscription_id)),
    )
    .set(subscriptions::synced_at.eq(subscriptions::synced_at))
    .execute(conn)?;
    let before = find_by_stripe(conn, &row.stripe_subscription_id)?;
    let Some(before) = before else {
        return Ok((None, false));
    };
    if before.synced_at > row.synced_at {
        return Ok((Some(before), false));
    }
    diesel::update(subscriptions::table.find(&before.id))
        .set((
            subscriptions::status.eq(row.status),
            subscriptions::current_period_start.eq(row.current_period_start),
            subscriptions::current_period_end.eq(row.current_period_end),
            subscriptions::cancel_at_period_end.eq(row.cancel_at_period_end),
            subscriptions::past_due_since.eq(row.past_due_since),
            subscriptions::ended_at.eq(row.ended_at),
            subscriptions::synced_at.eq(row.synced_at),
            subscriptions::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok((Some(before), true))
}

pub fn find(conn: &mut DbConnection, id: &SubscriptionId) -> QueryResult<Option<SubscriptionRow>> {
    subscriptions::table
        .find(id)
        .select(SubscriptionRow::as_select())
        .first(conn)
        .optional()
}

/// The user's subscriptions with their plans, newest first.
pub fn of_user(
    conn: &mut DbConnection,
    user: &UserId,
) -> QueryResult<Vec<(SubscriptionRow, PlanRow)>> {
    subscriptions::table
        .inner_join(plans::table)
        .filter(subscriptions::user_id.eq(user))
        .order_by((subscriptions::created_at.desc(), subscriptions::id.desc()))
        .select((SubscriptionRow::as_select(), PlanRow::as_select()))
        .load(conn)
}

/// A member's subscription, its plan and their email.
pub type MemberListing = (SubscriptionRow, PlanRow, String);

pub fn with_member(
    conn: &mut DbConnection,
    id: &SubscriptionId,
) -> QueryResult<Option<MemberListing>> {
    subscriptions::table
        .inner_join(plans::table)
        .inner_join(users::table)
        .filter(subscriptions::id.eq(id))
        .select((
            SubscriptionRow::as_select(),
            PlanRow::as_select(),
            users::email,
        ))
        .first(conn)
        .optional()
}

/// Every subscription (to one plan, when given), newest first, after the cursor.
pub fn members(
    conn: &mut DbConnection,
    plan: Option<&PlanId>,
    after: Option<&crate::pagination::Cursor>,
    limit: i64,
) -> QueryResult<Vec<MemberListing>> {
    let mut query = subscriptions::table
        .inner_join(plans::table)
        .inner_join(users::table)
        .select((
            SubscriptionRow::as_select(),
            PlanRow::as_select(),
            users::email,
        ))
        .order_by((subscriptions::created_at.desc(), subscriptions::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(plan) = plan {
        query = query.filter(subscriptions::plan_id.eq(plan.clone()));
    }
    if let Some(c) = after {
        query = query.filter(
            subscriptions::created_at
                .lt(c.created_at)
                .or(subscriptions::created_at
                    .eq(c.created_at)
                    .and(subscriptions::id.lt(c.id.clone()))),
        );
    }
    query.load(conn)
}

#[cfg(test)]
mod tests {
    //! The rule is written twice, as SQL (for the download's one statement) and in Rust (for
    //! the listings): both must give the same answer in every state.

    use super::*;
    use crate::auth::repo::UserRow;
    use crate::catalog::repo::ProductRow;
    use crate::config::DatabaseUrl;
    use chrono::TimeDelta;
    use shared_types::Role;

    #[test]
    fn the_sql_rule_and_the_rust_rule_agree() {
        let mut conn =
            DbConnection::establish_url(&DatabaseUrl::Sqlite(":memory:".into())).unwrap();
        conn.run_migrations().unwrap();
        let t = crate::db::now();
        let user = UserId::generate();
        crate::auth::repo::insert_user(
            &mut conn,
            &UserRow {
                id: user.clone(),
                email: "m@example.com".into(),
                password_hash: None,
                role: Role::Customer,
                created_at: t,
                updated_at: t,
                email_verified_at: None,
            },
        )
        .unwrap();
        let product = ProductId::generate();
        crate::catalog::repo::insert(
            &mut conn,
            &ProductRow {
                id: product.clone(),
                slug: "p".into(),
                title: "P".into(),
                description: String::new(),
                price_cents: 500,
                currency: Currency::Usd,
                status: ProductStatus::Published,
                preview_key: None,
                preview_content_type: None,
                created_at: t,
                updated_at: t,
                download_limit: None,
                access_days: None,
                stamp_pdfs: false,
                pay_what_you_want: false,
                suggested_price_cents: None,
            },
        )
        .unwrap();
        let plan = PlanRow {
            id: PlanId::generate(),
            name: "All".into(),
            description: String::new(),
            billing_interval: BillingInterval::Month,
            price_cents: 900,
            currency: Currency::Usd,
            all_products: true,
            active: true,
            created_at: t,
            updated_at: t,
        };
        insert_plan(&mut conn, &plan).unwrap();
        let at = AccessAt::new(t, 3 * 86_400);
        let hour = TimeDelta::hours(1);
        let mut checked = 0;
        for status in SubscriptionStatus::ALL {
            for cancelling in [false, true] {
                for end in [None, Some(t - hour), Some(t + hour)] {
                    for since in [None, Some(t - TimeDelta::days(4)), Some(t - hour)] {
                        let row = SubscriptionRow {
                            id: SubscriptionId::generate(),
                            stripe_subscription_id: format!("sub_{checked}"),
                            user_id: user.clone(),
                            plan_id: plan.id.clone(),
                            status,
                            current_period_start: None,
                            current_period_end: end,
                            cancel_at_period_end: cancelling,
                            past_due_since: since,
                            ended_at: None,
                            synced_at: t,
                            created_at: t,
                            updated_at: t,
                        };
                        diesel::delete(subscriptions::table)
                            .execute(&mut conn)
                            .unwrap();
                        store(&mut conn, &row).unwrap();
                        let sql: bool =
                            diesel::select(covers(&user, &product, at.now, at.grace_cutoff))
                                .get_result(&mut conn)
                                .unwrap();
                        assert_eq!(sql, row_grants(&row, at), "{row:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 8 * 2 * 3 * 3);
        // And the answers are not all the same.
        let active = SubscriptionRow {
            id: SubscriptionId::generate(),
            stripe_subscription_id: "sub_live".into(),
            user_id: user.clone(),
            plan_id: plan.id.clone(),
            status: SubscriptionStatus::PastDue,
            current_period_start: None,
            current_period_end: None,
            cancel_at_period_end: false,
            past_due_since: Some(t - hour),
            ended_at: None,
            synced_at: t,
            created_at: t,
            updated_at: t,
        };
        assert!(row_grants(&active, at));
        assert!(!row_grants(
            &SubscriptionRow {
                past_due_since: Some(t - TimeDelta::days(4)),
                ..active
            },
            at
        ));
    }
}
