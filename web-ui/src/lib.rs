//! Folio's web UI: three Leptos single-page apps over the same REST API third-party programs
//! use, built from this library; each links only the pages it routes to.
//!
//! - `shop`: the catalog and product pages (with a guest's checkout, discount codes and pay
//!   what you want): what every visitor loads;
//! - `account`: sign-in and registration, the signed-in customer's library and orders, the
//!   membership page (the plans on offer, subscribing, the member's memberships; Stripe returns
//!   there from a subscription's checkout), the page Stripe returns to after a purchase (a
//!   guest's too), and the pages of mailed links (asking for one, signing in with one,
//!   choosing a new password with one, stopping a product's update emails);
//! - `admin` (admin.html, which the server answers for `/admin/...`): the admin pages.
//!
//! The server answers index.html for every other client route; its start script (written by
//! `cargo xtask`'s web-UI build) loads `account` on that bundle's paths and `shop` elsewhere.
//! A link from one bundle to another's page is a full page load.

pub mod admin;
pub mod api;
pub mod components;
pub mod pages;
pub mod router;
pub mod shell;
mod upload;

use leptos::prelude::*;

use pages::*;

/// The bundles' allocator: single-threaded WebAssembly, memory grown as needed.
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// The shop's pages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ShopPage {
    Catalog,
    Product,
    Unsubscribe,
    NotFound,
}

fn shop_route(path: &str) -> ShopPage {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [] => ShopPage::Catalog,
        ["products", _] => ShopPage::Product,
        ["unsubscribe"] => ShopPage::Unsubscribe,
        _ => ShopPage::NotFound,
    }
}

fn shop_page(page: ShopPage) -> AnyView {
    // The components called as functions: `view! { <Page/> }` wraps each in more code.
    match page {
        ShopPage::Catalog => catalog::Catalog().into_any(),
        ShopPage::Product => product::ProductPage().into_any(),

        ShopPage::Unsubscribe => {
            // Update notices link to the account bundle's page (with the other mailed links'
            // pages, so the first catalog view stays small); a shortened `/unsubscribe?token=…`
            // still gets there.
            let search = router::location().with_untracked(|l| l.search.clone());
            router::navigate(&format!("{UNSUBSCRIBE_PAGE}{search}"), true);
            ().into_any()
        }
        ShopPage::NotFound => not_found::NotFound().into_any(),
    }
}

/// Where the page of an update notice's unsubscribe link is (under an account path).
const UNSUBSCRIBE_PAGE: &str = "/library/unsubscribe";

/// The shop bundle: every path that is neither the account's nor the admin's.
pub fn start_shop() {
    shell::start(
        |p| shell::bundle_of(p) == shell::Bundle::Shop,
        shop_route,
        shop_page,
    );
}

/// The signed-in customer's pages, the checkout's return and the mailed links' pages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AccountPage {
    Library,
    Orders,
    CheckoutSuccess,
    Membership,
    SignIn,
    Register,
    SignInLink,
    ResetPassword,
    Unsubscribe,
    NotFound,
}

fn account_route(path: &str) -> AccountPage {
    match path.trim_end_matches('/') {
        "/library" => AccountPage::Library,
        "/orders" => AccountPage::Orders,
        "/checkout/success" => AccountPage::CheckoutSuccess,
        membership::PAGE => AccountPage::Membership,
        "/signin" => AccountPage::SignIn,
        "/register" => AccountPage::Register,
        "/signin/link" => AccountPage::SignInLink,
        "/reset-password" => AccountPage::ResetPassword,
        UNSUBSCRIBE_PAGE => AccountPage::Unsubscribe,
        _ => AccountPage::NotFound,
    }
}

fn account_page(page: AccountPage) -> AnyView {
    match page {
        AccountPage::Library => library::Library().into_any(),
        AccountPage::Orders => orders::MyOrders().into_any(),
        AccountPage::CheckoutSuccess => checkout::Success().into_any(),
        AccountPage::Membership => membership::MyMembership().into_any(),
        AccountPage::SignIn => auth::SignIn().into_any(),
        AccountPage::Register => auth::Register().into_any(),
        AccountPage::SignInLink => links::SignInLink().into_any(),
        AccountPage::ResetPassword => links::ResetPassword().into_any(),
        AccountPage::Unsubscribe => unsubscribe::Unsubscribe().into_any(),
        AccountPage::NotFound => not_found::NotFound().into_any(),
    }
}

/// The account bundle: the paths of [`shell::ACCOUNT_PATHS`].
pub fn start_account() {
    shell::start(
        |p| shell::bundle_of(p) == shell::Bundle::Account,
        account_route,
        account_page,
    );
}

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
        ["admin", "jobs"] => AdminPage::Jobs,
        ["admin", "mailbox"] => AdminPage::Mailbox,
        ["admin", "mailbox", _] => AdminPage::MailboxMessage,
        _ => AdminPage::NotFound,
    }
}

fn admin_page(page: AdminPage) -> AnyView {
    match page {
        AdminPage::Home => view! { <admin::Home/> }.into_any(),
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
        AdminPage::Jobs => view! { <admin::jobs::Jobs/> }.into_any(),
        AdminPage::Mailbox => view! { <admin::mailbox::Mailbox/> }.into_any(),
        AdminPage::MailboxMessage => view! { <admin::mailbox::Message/> }.into_any(),
        AdminPage::NotFound => view! { <not_found::NotFound/> }.into_any(),
    }
}

/// The admin bundle: the paths under `/admin`.
pub fn start_admin() {
    shell::start(
        |p| shell::bundle_of(p) == shell::Bundle::Admin,
        admin_route,
        admin_page,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use shell::{bundle_of, Bundle};

    #[test]
    fn every_path_has_one_bundle_and_a_page_there() {
        assert!(shop_route("/") == ShopPage::Catalog);
        assert!(shop_route("/products/rust-book") == ShopPage::Product);
        assert!(account_route("/signin") == AccountPage::SignIn);
        assert!(account_route("/register") == AccountPage::Register);
        assert!(shop_route("/unsubscribe") == ShopPage::Unsubscribe);
        assert!(shop_route("/products/a/b") == ShopPage::NotFound);
        assert!(account_route("/checkout/success") == AccountPage::CheckoutSuccess);
        assert!(account_route("/library") == AccountPage::Library);
        assert!(account_route("/checkout/elsewhere") == AccountPage::NotFound);
        assert!(account_route("/signin/link") == AccountPage::SignInLink);
        assert!(account_route("/reset-password") == AccountPage::ResetPassword);
        assert!(account_route("/library/unsubscribe") == AccountPage::Unsubscribe);
        assert!(account_route("/membership") == AccountPage::Membership);
        assert!(account_route("/membership/") == AccountPage::Membership);
        assert!(account_route("/membership/x") == AccountPage::NotFound);
        assert!(bundle_of(UNSUBSCRIBE_PAGE) == Bundle::Account);
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
        assert!(admin_route("/admin/nope") == AdminPage::NotFound);
        for (path, bundle) in [
            ("/", Bundle::Shop),
            ("/products/x", Bundle::Shop),
            ("/signin", Bundle::Account),
            ("/register", Bundle::Account),
            ("/unsubscribe", Bundle::Shop),
            ("/nope", Bundle::Shop),
            ("/administrator", Bundle::Shop),
            ("/products/admin", Bundle::Shop),
            ("/libraryx", Bundle::Shop),
            ("/library", Bundle::Account),
            ("/library/", Bundle::Account),
            ("/orders", Bundle::Account),
            ("/checkout/success", Bundle::Account),
            ("/checkout", Bundle::Account),
            ("/signin/link", Bundle::Account),
            ("/reset-password", Bundle::Account),
            ("/membership", Bundle::Account),
            ("/membershipx", Bundle::Shop),
            ("/signinx", Bundle::Shop),
            ("/registered", Bundle::Shop),
            ("/admin", Bundle::Admin),
            ("/admin/", Bundle::Admin),
            ("/admin/products", Bundle::Admin),
            ("/api/docs/", Bundle::Server),
            ("/api", Bundle::Server),
            ("/media/previews/x.png", Bundle::Server),
            ("/healthz", Bundle::Server),
            ("/apiary", Bundle::Shop),
        ] {
            assert!(bundle_of(path) == bundle, "{path}");
        }
    }

    #[test]
    fn the_start_script_sends_the_same_paths_to_the_account_bundle() {
        // xtask writes ACCOUNT_PATHS into index.html's start script as a regular expression;
        // this checks the list against bundle_of, which the bundles' routers use.
        for prefix in shell::ACCOUNT_PATHS {
            assert!(bundle_of(prefix) == Bundle::Account, "{prefix}");
            assert!(
                bundle_of(&format!("{prefix}/x")) == Bundle::Account,
                "{prefix}/x"
            );
        }
    }
}
