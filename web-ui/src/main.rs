//! Folio's web UI: a Leptos single-page app for shoppers and admins, over the same REST API
//! third-party programs use.

mod api;
mod components;
mod pages;
mod upload;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

use api::Session;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    let session = Session {
        user: RwSignal::new(None),
        ready: RwSignal::new(false),
    };
    api::install_session(session);
    // A returning visitor still has the refresh cookie: sign them in silently.
    leptos::task::spawn_local(async move {
        api::refresh_session(session).await;
        session.ready.set(true);
    });
    view! {
        <Router>
            <Header/>
            <main id="content">
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("/") view=pages::catalog::Catalog/>
                    <Route path=path!("/products/:slug") view=pages::product::ProductPage/>
                    <Route path=path!("/signin") view=pages::auth::SignIn/>
                    <Route path=path!("/register") view=pages::auth::Register/>
                    <Route path=path!("/library") view=pages::library::Library/>
                    <Route path=path!("/orders") view=pages::orders::MyOrders/>
                    <Route path=path!("/checkout/success") view=pages::checkout::Success/>
                    <Route path=path!("/admin/products") view=pages::admin::Products/>
                    <Route path=path!("/admin/products/new") view=pages::admin::NewProduct/>
                    <Route path=path!("/admin/products/:id/edit") view=pages::admin::EditProduct/>
                    <Route path=path!("/admin/orders") view=pages::admin::Orders/>
                </Routes>
            </main>
            <footer class="site-footer">
                <span>"Folio"</span>
                <a href="/api/docs/" rel="external">"API reference"</a>
            </footer>
        </Router>
    }
}

#[component]
fn Header() -> impl IntoView {
    let session = api::session();
    let signed_in = move || session.user.with(Option::is_some);
    let is_admin = move || session.is_admin();
    let email = move || {
        session.user.with(|u| {
            u.as_ref()
                .map(|s| s.profile.email.clone())
                .unwrap_or_default()
        })
    };
    let navigate = leptos_router::hooks::use_navigate();
    let sign_out = move |_| {
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            api::sign_out(session).await;
            navigate("/", Default::default());
        });
    };
    view! {
        <header class="site-header">
            <nav aria-label="Main">
                <A href="/" attr:id="nav-catalog" attr:class="brand">"Folio"</A>
                <A href="/" attr:class="nav-link">"Catalog"</A>
                <Show when=signed_in>
                    <A href="/library" attr:id="nav-library" attr:class="nav-link">"Library"</A>
                    <A href="/orders" attr:id="nav-orders" attr:class="nav-link">"Orders"</A>
                </Show>
                <Show when=is_admin>
                    <A href="/admin/products" attr:id="nav-admin" attr:class="nav-link admin-link">"Admin"</A>
                </Show>
            </nav>
            <div class="account">
                <Show
                    when=signed_in
                    fallback=|| view! {
                        <A href="/signin" attr:id="nav-signin" attr:class="nav-link">"Sign in"</A>
                        <A href="/register" attr:id="nav-register" attr:class="button small">"Create account"</A>
                    }
                >
                    <span class="who" title="Signed in">{email}</span>
                    <button id="signout" class="button small secondary" on:click=sign_out.clone()>"Sign out"</button>
                </Show>
            </div>
        </header>
    }
}
