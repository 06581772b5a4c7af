//! What every page of every bundle shares: start-up (session, router), the header and footer,
//! and the page switch.

use leptos::prelude::*;

use crate::api::{self, Session};
use crate::components::{dynamic, when};
use crate::router;

/// The three bundles (see the crate's documentation), and the paths the server answers itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bundle {
    Shop,
    Account,
    Admin,
    /// The API and its reference, previews, health checks: a link there is a page load.
    Server,
}

/// The account bundle's paths, each with everything below it: the signed-in customer's pages,
/// the pages Stripe returns to (a purchase's, and the membership page, a subscription's), and
/// the pages mailed links open. `cargo xtask` writes the same list into index.html's start
/// script, which picks the bundle to load.
pub const ACCOUNT_PATHS: [&str; 7] = [
    "/library",
    "/orders",
    "/checkout",
    "/signin",
    "/register",
    "/reset-password",
    "/membership",
];

/// Which bundle renders `path`.
pub fn bundle_of(path: &str) -> Bundle {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if ["/api", "/media", "/healthz", "/readyz"]
        .into_iter()
        .any(under)
    {
        Bundle::Server
    } else if under("/admin") {
        Bundle::Admin
    } else if ACCOUNT_PATHS.into_iter().any(under) {
        Bundle::Account
    } else {
        Bundle::Shop
    }
}

/// Mounts a bundle: `owns` says which paths it renders, `route` names the page for a path and
/// `page` builds it. The page is built anew when the route changes, and kept when only its
/// parameter or the query string does.
pub fn start<P>(owns: fn(&str) -> bool, route: fn(&str) -> P, page: fn(P) -> AnyView)
where
    P: Copy + PartialEq + Send + Sync + 'static,
{
    // Panic messages in the console are for development; release builds abort without them.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(move || {
        start_session();
        router::install(owns);
        let loc = router::location();
        let current = Memo::new(move |_| loc.with(|l| route(&l.path)));
        view! {
            <Header/>
            <main id="content">{dynamic(move || page(current.get()))}</main>
            <footer class="site-footer">
                <span>"Folio"</span>
                <a href="/api/docs/" rel="external">"API reference"</a>
            </footer>
        }
    });
}

fn start_session() {
    let session = Session {
        user: RwSignal::new(None),
        ready: RwSignal::new(false),
    };
    api::install_session(session);
    // A returning visitor has the refresh cookie (HttpOnly, unseen here) and the server's
    // marker beside it: only then is a refresh worth asking for. An anonymous visitor causes
    // no request that could fail.
    if api::may_have_session() {
        leptos::task::spawn_local(async move {
            api::refresh_session(session).await;
            session.ready.set(true);
        });
    } else {
        session.ready.set(true);
    }
    // Back to a page kept in the browser's cache after signing out (here or in another tab):
    // the marker is gone, so is the session, and a page that needs one asks for it again
    // instead of showing what it showed before.
    drop(window_event_listener_untyped("pageshow", move |_| {
        if session.user.with_untracked(Option::is_some) && !api::may_have_session() {
            session.user.set(None);
        }
    }));
}

/// `/signin?next=<here>`: signing in comes back to the page the visitor was on.
pub fn signin_href() -> String {
    let here = router::location().with_untracked(router::Loc::href);
    signin_href_to(&here)
}

/// `/signin?next=<next>`.
pub fn signin_href_to(next: &str) -> String {
    if next == "/"
        || ["/signin", "/register", "/reset-password"]
            .iter()
            .any(|p| next.starts_with(p))
    {
        return "/signin".to_owned();
    }
    format!(
        "/signin?next={}",
        String::from(js_sys::encode_uri_component(next))
    )
}

/// A header link, marked as the current page when the location is `href`. Never inlined: each
/// link is then a call, not another copy of the element's code.
#[inline(never)]
fn nav_link(href: &'static str, id: &'static str, label: &'static str) -> impl IntoView {
    let loc = router::location();
    let current = move || loc.with(|l| l.path == href).then_some("page");
    view! { <a href=href id=id class="nav-link" aria-current=current>{label}</a> }
}

#[component]
fn Header() -> impl IntoView {
    let session = api::session();
    let loc = router::location();
    let signed_in = move || session.user.with(Option::is_some);
    let is_admin = move || session.is_admin();
    let email = move || {
        session.user.with(|u| {
            u.as_ref()
                .map(|s| s.profile.email.clone())
                .unwrap_or_default()
        })
    };
    let sign_out = move |_| {
        leptos::task::spawn_local(async move {
            api::sign_out(session).await;
            router::navigate("/", false);
        });
    };
    // Tracks the location so the link always comes back to the page shown.
    let signin = move || {
        loc.track();
        signin_href()
    };
    view! {
        <header class="site-header">
            <a href="/" id="nav-catalog" class="brand">"Folio"</a>
            <nav aria-label="Main">
                // A pair of the type the signed-in pair below has: no new view code for it.
                {view! {
                    {nav_link("/", "nav-home", "Catalog")}
                    {nav_link("/membership", "nav-membership", "Membership")}
                }}
                {when(signed_in, || view! {
                    {nav_link("/library", "nav-library", "Library")}
                    {nav_link("/orders", "nav-orders", "Orders")}
                }.into_any())}
                {when(is_admin, || view! {
                    <a href="/admin/products" id="nav-admin" class="nav-link admin-link">"Admin"</a>
                }.into_any())}
            </nav>
            <div class="account">
                {dynamic(move || if signed_in() {
                    view! {
                        <span class="who" title="Signed in">{email()}</span>
                        <button id="signout" class="button small secondary" on:click=sign_out>"Sign out"</button>
                    }.into_any()
                } else {
                    view! {
                        <a href=signin id="nav-signin" class="nav-link">"Sign in"</a>
                        <a href="/register" id="nav-register" class="button small">"Create account"</a>
                    }.into_any()
                })}
            </div>
        </header>
    }
}
