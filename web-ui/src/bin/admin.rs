//! The admin bundle (admin.html, served for `/admin/...`): the admin's pages, routed here.
//!
//! The pages are modules of this binary rather than of the library (see the library's
//! documentation): the shop's and account's bundles are then built from code the admin pages
//! never change. They reach the library's modules by the paths they would have in it
//! (`crate::api`, `crate::components`, …), through the imports below.

// `src/admin.rs` (with `src/admin/`) and `src/upload.rs`, where the library's files are.
#[path = ".."]
mod src {
    pub mod admin;
    pub mod upload;
}

use src::{admin, upload};

use leptos::prelude::*;
use web_ui::pages::not_found;
use web_ui::{api, components, pages, router, shell};

/// The admin's pages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AdminPage {
    Home,
    Products,
    NewProduct,
    EditProduct,
    Orders,
    Discounts,
    NewDiscount,
    EditDiscount,
    DiscountRedemptions,
    Plans,
    NewPlan,
    EditPlan,
    Members,
    Customers,
    ApiKeys,
    Webhooks,
    WebhookDeliveries,
    Jobs,
    Mailbox,
    MailboxMessage,
    NotFound,
}

fn admin_route(path: &str) -> AdminPage {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["admin"] => AdminPage::Home,
        ["admin", "products"] => AdminPage::Products,
        ["admin", "products", "new"] => AdminPage::NewProduct,
        ["admin", "products", _, "edit"] => AdminPage::EditProduct,
        ["admin", "orders"] => AdminPage::Orders,
        ["admin", "discounts"] => AdminPage::Discounts,
        ["admin", "discounts", "new"] => AdminPage::NewDiscount,
        ["admin", "discounts", _, "edit"] => AdminPage::EditDiscount,
        ["admin", "discounts", _, "redemptions"] => AdminPage::DiscountRedemptions,
        ["admin", "plans"] => AdminPage::Plans,
        ["admin", "plans", "new"] => AdminPage::NewPlan,
        ["admin", "plans", _, "edit"] => AdminPage::EditPlan,
        ["admin", "members"] => AdminPage::Members,
        ["admin", "customers"] => AdminPage::Customers,
        ["admin", "api-keys"] => AdminPage::ApiKeys,
        ["admin", "webhooks"] => AdminPage::Webhooks,
        ["admin", "webhooks", _] => AdminPage::WebhookDeliveries,
        ["admin", "jobs"] => AdminPage::Jobs,
        ["admin", "mailbox"] => AdminPage::Mailbox,
        ["admin", "mailbox", _] => AdminPage::MailboxMessage,
        _ => AdminPage::NotFound,
    }
}

fn admin_page(page: AdminPage) -> AnyView {
    match page {
        AdminPage::Home => view! { <admin::dashboard::Dashboard/> }.into_any(),
        AdminPage::Products => view! { <admin::Products/> }.into_any(),
        AdminPage::NewProduct => view! { <admin::NewProduct/> }.into_any(),
        AdminPage::EditProduct => view! { <admin::EditProduct/> }.into_any(),
        AdminPage::Orders => view! { <admin::Orders/> }.into_any(),
        AdminPage::Discounts => view! { <admin::discounts::Discounts/> }.into_any(),
        AdminPage::NewDiscount => view! { <admin::discounts::NewDiscount/> }.into_any(),
        AdminPage::EditDiscount => view! { <admin::discounts::EditDiscount/> }.into_any(),
        AdminPage::DiscountRedemptions => view! { <admin::discounts::Redemptions/> }.into_any(),
        AdminPage::Plans => view! { <admin::plans::Plans/> }.into_any(),
        AdminPage::NewPlan => view! { <admin::plans::NewPlan/> }.into_any(),
        AdminPage::EditPlan => view! { <admin::plans::EditPlan/> }.into_any(),
        AdminPage::Members => view! { <admin::plans::Members/> }.into_any(),
        AdminPage::Customers => view! { <admin::customers::Customers/> }.into_any(),
        AdminPage::ApiKeys => view! { <admin::api_keys::ApiKeys/> }.into_any(),
        AdminPage::Webhooks => view! { <admin::webhooks::Webhooks/> }.into_any(),
        AdminPage::WebhookDeliveries => view! { <admin::webhooks::Deliveries/> }.into_any(),
        AdminPage::Jobs => view! { <admin::jobs::Jobs/> }.into_any(),
        AdminPage::Mailbox => view! { <admin::mailbox::Mailbox/> }.into_any(),
        AdminPage::MailboxMessage => view! { <admin::mailbox::Message/> }.into_any(),
        AdminPage::NotFound => view! { <not_found::NotFound/> }.into_any(),
    }
}

/// The admin bundle: the paths under `/admin`.
fn main() {
    shell::start(
        |p| shell::bundle_of(p) == shell::Bundle::Admin,
        admin_route,
        admin_page,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_admin_path_has_its_page() {
        assert!(admin_route("/admin/products/0190/edit") == AdminPage::EditProduct);
        assert!(admin_route("/admin/jobs") == AdminPage::Jobs);
        assert!(admin_route("/admin/discounts") == AdminPage::Discounts);
        assert!(admin_route("/admin/discounts/new") == AdminPage::NewDiscount);
        assert!(admin_route("/admin/discounts/0190/edit") == AdminPage::EditDiscount);
        assert!(admin_route("/admin/discounts/0190/redemptions") == AdminPage::DiscountRedemptions);
        assert!(admin_route("/admin/discounts/0190") == AdminPage::NotFound);
        assert!(admin_route("/admin/mailbox/ab12") == AdminPage::MailboxMessage);
        assert!(admin_route("/admin/plans") == AdminPage::Plans);
        assert!(admin_route("/admin/plans/new") == AdminPage::NewPlan);
        assert!(admin_route("/admin/plans/0190/edit") == AdminPage::EditPlan);
        assert!(admin_route("/admin/plans/0190") == AdminPage::NotFound);
        assert!(admin_route("/admin/members") == AdminPage::Members);
        assert!(admin_route("/admin") == AdminPage::Home);
        assert!(admin_route("/admin/") == AdminPage::Home);
        assert!(admin_route("/admin/customers") == AdminPage::Customers);
        assert!(admin_route("/admin/api-keys") == AdminPage::ApiKeys);
        assert!(admin_route("/admin/webhooks") == AdminPage::Webhooks);
        assert!(admin_route("/admin/webhooks/0190") == AdminPage::WebhookDeliveries);
        assert!(admin_route("/admin/webhooks/0190/x") == AdminPage::NotFound);
        assert!(admin_route("/admin/nope") == AdminPage::NotFound);
    }
}
