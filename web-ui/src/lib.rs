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
//! - `admin` (admin.html, which the server answers for `/admin/...`): the admin pages. They are
//!   modules of that binary (`src/bin/admin.rs`, from `src/admin.rs` and `src/admin/`), not of
//!   this library: the library is compiled once for the three bundles, and with fat LTO any code
//!   in it changes how the code the bundles share is optimised, so admin pages in the library
//!   moved the shop's first view by hundreds of bytes either way. Out of it, they cannot.
//!
//! The server answers index.html for every other client route; its start script (written by
//! `cargo xtask`'s web-UI build) loads `account` on that bundle's paths and `shop` elsewhere.
//! A link from one bundle to another's page is a full page load.

pub mod api;
pub mod components;
pub mod pages;
pub mod router;
pub mod shell;

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
