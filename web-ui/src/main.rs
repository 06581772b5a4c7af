//! Folio's web UI: a Leptos single-page app for shoppers and admins, over the same REST API
//! third-party programs use.

mod api;
mod components;
mod pages;
mod routes;
mod upload;

use leptos::prelude::*;
use leptos_router::components::{Router, A};

use api::Session;

fn main() {
    // Panic messages in the console are for development; release builds abort without them.
    #[cfg(debug_assertions)]
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
                {routes::current_page()}
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
