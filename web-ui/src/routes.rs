//! The app's routes. leptos_router's `<Routes>` compiles its matching and view switching once
//! for every route's types, about a ninth of the gzipped bundle here; this plain match on the
//! path does the same job for the app's few fixed routes. `<Router>` still provides the
//! location, links (`<A>`), navigation and the query string.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::pages;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Page {
    Catalog,
    Product,
    SignIn,
    Register,
    Library,
    Orders,
    CheckoutSuccess,
    AdminProducts,
    AdminNewProduct,
    AdminEditProduct,
    AdminOrders,
    NotFound,
}

/// The page for `path`, and the value of its parameter (`:slug`, `:id`) if it has one.
fn route(path: &str) -> (Page, Option<&str>) {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [] => (Page::Catalog, None),
        ["products", slug] => (Page::Product, Some(slug)),
        ["signin"] => (Page::SignIn, None),
        ["register"] => (Page::Register, None),
        ["library"] => (Page::Library, None),
        ["orders"] => (Page::Orders, None),
        ["checkout", "success"] => (Page::CheckoutSuccess, None),
        ["admin", "products"] => (Page::AdminProducts, None),
        ["admin", "products", "new"] => (Page::AdminNewProduct, None),
        ["admin", "products", id, "edit"] => (Page::AdminEditProduct, Some(id)),
        ["admin", "orders"] => (Page::AdminOrders, None),
        _ => (Page::NotFound, None),
    }
}

/// The current page. Like `<Routes>`, it is built anew when the route changes, and kept when
/// only the parameter or the query string does.
pub fn current_page() -> impl IntoView {
    let pathname = use_location().pathname;
    let page = Memo::new(move |_| pathname.with(|p| route(p).0));
    move || match page.get() {
        Page::Catalog => view! { <pages::catalog::Catalog/> }.into_any(),
        Page::Product => view! { <pages::product::ProductPage/> }.into_any(),
        Page::SignIn => view! { <pages::auth::SignIn/> }.into_any(),
        Page::Register => view! { <pages::auth::Register/> }.into_any(),
        Page::Library => view! { <pages::library::Library/> }.into_any(),
        Page::Orders => view! { <pages::orders::MyOrders/> }.into_any(),
        Page::CheckoutSuccess => view! { <pages::checkout::Success/> }.into_any(),
        Page::AdminProducts => view! { <pages::admin::Products/> }.into_any(),
        Page::AdminNewProduct => view! { <pages::admin::NewProduct/> }.into_any(),
        Page::AdminEditProduct => view! { <pages::admin::EditProduct/> }.into_any(),
        Page::AdminOrders => view! { <pages::admin::Orders/> }.into_any(),
        Page::NotFound => view! { <pages::not_found::NotFound/> }.into_any(),
    }
}

/// The current route's parameter (the product's slug or id). It keeps its last value when the
/// location leaves the route, so the page being replaced does not refetch with an empty one.
pub fn param() -> Memo<String> {
    let pathname = use_location().pathname;
    Memo::new(move |last: Option<&String>| {
        pathname.with(|p| match route(p).1 {
            Some(value) => value.to_owned(),
            None => last.cloned().unwrap_or_default(),
        })
    })
}
