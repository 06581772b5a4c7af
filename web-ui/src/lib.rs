//! Folio's web UI: two Leptos single-page apps over the same REST API third-party programs use.
//! `shop` (index.html) has the catalog, product pages, sign-in and the customer's pages;
//! `admin` (admin.html, served for `/admin/...`) has the admin pages. Both are built from this
//! library and link only what their routes reach.

pub mod admin;
pub mod api;
pub mod components;
pub mod pages;
pub mod router;
pub mod shell;
mod upload;

use leptos::prelude::*;

use pages::*;

/// The shop's pages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ShopPage {
    Catalog,
    Product,
    SignIn,
    Register,
    Library,
    Orders,
    CheckoutSuccess,
    NotFound,
}

fn shop_route(path: &str) -> ShopPage {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [] => ShopPage::Catalog,
        ["products", _] => ShopPage::Product,
        ["signin"] => ShopPage::SignIn,
        ["register"] => ShopPage::Register,
        ["library"] => ShopPage::Library,
        ["orders"] => ShopPage::Orders,
        ["checkout", "success"] => ShopPage::CheckoutSuccess,
        _ => ShopPage::NotFound,
    }
}

fn shop_page(page: ShopPage) -> AnyView {
    match page {
        ShopPage::Catalog => view! { <catalog::Catalog/> }.into_any(),
        ShopPage::Product => view! { <product::ProductPage/> }.into_any(),
        ShopPage::SignIn => view! { <auth::SignIn/> }.into_any(),
        ShopPage::Register => view! { <auth::Register/> }.into_any(),
        ShopPage::Library => view! { <library::Library/> }.into_any(),
        ShopPage::Orders => view! { <orders::MyOrders/> }.into_any(),
        ShopPage::CheckoutSuccess => view! { <checkout::Success/> }.into_any(),
        ShopPage::NotFound => view! { <not_found::NotFound/> }.into_any(),
    }
}

/// The shop bundle: every path outside `/admin`.
pub fn start_shop() {
    shell::start(|p| !shell::is_admin_path(p), shop_route, shop_page);
}

/// The admin's pages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AdminPage {
    Home,
    Products,
    NewProduct,
    EditProduct,
    Orders,
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
        AdminPage::NotFound => view! { <not_found::NotFound/> }.into_any(),
    }
}

/// The admin bundle: the paths under `/admin`.
pub fn start_admin() {
    shell::start(shell::is_admin_path, admin_route, admin_page);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_has_one_bundle_and_a_page_there() {
        assert!(shop_route("/") == ShopPage::Catalog);
        assert!(shop_route("/products/rust-book") == ShopPage::Product);
        assert!(shop_route("/checkout/success") == ShopPage::CheckoutSuccess);
        assert!(shop_route("/products/a/b") == ShopPage::NotFound);
        assert!(admin_route("/admin/products/0190/edit") == AdminPage::EditProduct);
        assert!(admin_route("/admin/nope") == AdminPage::NotFound);
        for path in ["/admin", "/admin/", "/admin/products", "/admin/orders"] {
            assert!(shell::is_admin_path(path), "{path}");
        }
        for path in ["/", "/administrator", "/products/admin", "/signin"] {
            assert!(!shell::is_admin_path(path), "{path}");
        }
    }
}
