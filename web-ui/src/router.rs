//! The app's router: a location signal kept true to the address bar.
//!
//! leptos_router 0.8 commits a link click to the address bar only when its `<Routes>` has
//! resolved the new route, and `<Routes>` compiled into a ninth of the bundle; with a plain match
//! on the path instead, clicks changed the page and never the URL. This module does the whole
//! job in about 4 KB of wasm (before compression): one delegated click handler for same-origin
//! `<a>` elements, `history.pushState`/`replaceState`, `popstate` for Back and Forward, and the
//! scroll position of every history entry kept in that entry's state (so Back, Forward and a
//! reload all return to where the reader was).
//!
//! Each bundle (shop, account, admin) owns some paths; a link or navigation to a path the bundle
//! does not own is a full page load, which starts the other bundle.

use std::cell::{Cell, OnceCell};
use std::time::Duration;

use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Url;

/// Where the app is: the parts of `location` the pages read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    /// `/products/x`
    pub path: String,
    /// `?q=rust`, or empty
    pub search: String,
    /// `#section`, or empty
    pub hash: String,
}

impl Loc {
    /// Path, query and fragment: what a link to this place says.
    pub fn href(&self) -> String {
        format!("{}{}{}", self.path, self.search, self.hash)
    }
}

#[derive(Clone, Copy)]
struct Router {
    loc: RwSignal<Loc>,
    owns: fn(&str) -> bool,
    /// Counts the times this document came back from the browser's cache (Back or Forward).
    restored: RwSignal<u32>,
}

thread_local! {
    static ROUTER: OnceCell<Router> = const { OnceCell::new() };
    /// True while the page shown came from Back or Forward (or a reload), false after a push.
    static POPPED: Cell<bool> = const { Cell::new(true) };
    /// Bumped by every navigation, so a scroll restoration still waiting for its page to grow
    /// gives up when the reader has moved on.
    static GENERATION: Cell<u32> = const { Cell::new(0) };
    static SAVE_TIMER: Cell<Option<TimeoutHandle>> = const { Cell::new(None) };
    /// Set once a navigation has started a page load: the first one wins, so a page that
    /// reacts to what led to it (signing out on a page that needs a session) cannot send the
    /// reader somewhere else while the document unloads.
    static LEAVING: Cell<bool> = const { Cell::new(false) };
}

fn router() -> Router {
    ROUTER.with(|r| *r.get().expect("router::install runs before any page"))
}

fn current() -> Loc {
    let l = window().location();
    Loc {
        path: l.pathname().unwrap_or_default(),
        search: l.search().unwrap_or_default(),
        hash: l.hash().unwrap_or_default(),
    }
}

/// Starts the router for a bundle that renders the paths `owns` accepts.
pub fn install(owns: fn(&str) -> bool) {
    let r = Router {
        loc: RwSignal::new(current()),
        owns,
        restored: RwSignal::new(0),
    };
    ROUTER.with(|cell| {
        let _ = cell.set(r);
    });
    let w = window();
    if let Ok(history) = w.history() {
        // The browser would restore the scroll before the page has rendered its content.
        let _ = history.set_scroll_restoration(web_sys::ScrollRestoration::Manual);
        // A reload: back to where the reader was.
        restore_scroll(history.state().ok().and_then(|s| s.as_f64()));
    }
    // For the life of the page: dropping a handle leaves its listener in place.
    drop(window_event_listener_untyped("click", on_click));
    drop(window_event_listener_untyped("popstate", on_popstate));
    drop(window_event_listener_untyped("scroll", |_| {
        save_scroll_soon()
    }));
    // Back to this document from the browser's cache: it is no longer leaving, and pages may
    // have to look again at what has changed meanwhile (see `restored`).
    drop(window_event_listener_untyped("pageshow", move |ev| {
        LEAVING.with(|l| l.set(false));
        if ev
            .dyn_ref::<web_sys::PageTransitionEvent>()
            .is_some_and(|e| e.persisted())
        {
            r.restored.update(|n| *n = n.wrapping_add(1));
        }
    }));
}

/// Changes each time this document comes back from the browser's cache: a page that decided
/// something from the session (redirect or not) tracks it to decide again.
pub fn restored() -> ReadSignal<u32> {
    router().restored.read_only()
}

/// The current location (reactive).
pub fn location() -> ReadSignal<Loc> {
    router().loc.read_only()
}

/// Whether the page shown came from Back, Forward or a reload rather than a new navigation.
pub fn popped() -> bool {
    POPPED.with(Cell::get)
}

/// The decoded value of query parameter `name` in `search` (`?a=1&b=2`).
pub fn query_in(search: &str, name: &str) -> Option<String> {
    web_sys::UrlSearchParams::new_with_str(search)
        .ok()?
        .get(name)
}

/// The current value of query parameter `name`, without tracking it.
pub fn query(name: &str) -> Option<String> {
    router().loc.with_untracked(|l| query_in(&l.search, name))
}

/// The value of query parameter `name`, tracked.
pub fn query_memo(name: &'static str) -> Memo<Option<String>> {
    let loc = router().loc;
    Memo::new(move |_| loc.with(|l| query_in(&l.search, name)))
}

/// The path segment between `prefix` and `suffix` (`/products/` and `` for a slug). It keeps its
/// last value when the location leaves the route, so the page being replaced does not refetch
/// with an empty one.
pub fn param(prefix: &'static str, suffix: &'static str) -> Memo<String> {
    let loc = router().loc;
    Memo::new(move |last: Option<&String>| {
        loc.with(|l| {
            match l
                .path
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(suffix))
                .filter(|v| !v.is_empty() && !v.contains('/'))
            {
                Some(v) => v.to_owned(),
                None => last.cloned().unwrap_or_default(),
            }
        })
    })
}

/// Goes to `href` (resolved against the current address): a new history entry, or with
/// `replace` the current one replaced (for redirects). A path this bundle does not own, or
/// another origin, is a full page load.
pub fn navigate(href: &str, replace: bool) {
    let location = window().location();
    let Some(url) = location
        .href()
        .ok()
        .and_then(|base| Url::new_with_base(href, &base).ok())
    else {
        return;
    };
    if LEAVING.with(Cell::get) {
        return;
    }
    if !is_ours(&url) {
        LEAVING.with(|l| l.set(true));
        let target = url.href();
        let _ = if replace {
            location.replace(&target)
        } else {
            location.assign(&target)
        };
        return;
    }
    go(&url, replace);
}

/// Same origin, and a path this bundle renders.
fn is_ours(url: &Url) -> bool {
    window().location().origin().ok().as_deref() == Some(url.origin().as_str())
        && (router().owns)(&url.pathname())
}

fn go(url: &Url, replace: bool) {
    let Ok(history) = window().history() else {
        return;
    };
    let target = format!("{}{}{}", url.pathname(), url.search(), url.hash());
    // The entry being left keeps its scroll position, for Back.
    save_scroll();
    // A new entry starts at the top (its state is the scroll position, 0).
    let top = JsValue::from_f64(0.0);
    let pushed = if replace {
        history.replace_state_with_url(&top, "", Some(&target))
    } else {
        history.push_state_with_url(&top, "", Some(&target))
    };
    if pushed.is_err() {
        let _ = window().location().assign(&target);
        return;
    }
    POPPED.with(|p| p.set(false));
    let loc = current();
    let hash = loc.hash.clone();
    router().loc.set(loc);
    if hash.is_empty() {
        GENERATION.with(|g| g.set(g.get().wrapping_add(1)));
        window().scroll_to_with_x_and_y(0.0, 0.0);
    } else {
        restore_scroll(None);
    }
}

fn on_click(ev: web_sys::Event) {
    let Some(ev) = ev.dyn_ref::<web_sys::MouseEvent>() else {
        return;
    };
    // Left clicks without modifiers only: the others open tabs and windows, as they should.
    if ev.default_prevented()
        || ev.button() != 0
        || ev.meta_key()
        || ev.ctrl_key()
        || ev.shift_key()
        || ev.alt_key()
    {
        return;
    }
    let Some(a) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|el| el.closest("a[href]").ok().flatten())
    else {
        return;
    };
    if a.has_attribute("download")
        || a.get_attribute("target")
            .is_some_and(|t| !t.is_empty() && t != "_self")
        || a.get_attribute("rel")
            .is_some_and(|r| r.split_ascii_whitespace().any(|w| w == "external"))
    {
        return;
    }
    let location = window().location();
    let Some(url) = a
        .get_attribute("href")
        .and_then(|href| Url::new_with_base(&href, &location.href().ok()?).ok())
    else {
        return;
    };
    if !is_ours(&url) {
        // The browser loads it: another site, or the other bundle.
        return;
    }
    let here = current();
    if url.pathname() == here.path && url.search() == here.search && !url.hash().is_empty() {
        // A link within the page: the browser scrolls to it (and fires popstate).
        return;
    }
    ev.prevent_default();
    go(&url, false);
}

fn on_popstate(ev: web_sys::Event) {
    let loc = current();
    if !(router().owns)(&loc.path) {
        // An entry of the other bundle in this document's history: load it.
        let _ = window().location().reload();
        return;
    }
    let y = ev
        .dyn_ref::<web_sys::PopStateEvent>()
        .and_then(|e| e.state().as_f64());
    POPPED.with(|p| p.set(true));
    router().loc.set(loc);
    restore_scroll(y);
}

/// Remembers the scroll position in the current history entry.
fn save_scroll() {
    let w = window();
    if let (Ok(history), Ok(y)) = (w.history(), w.scroll_y()) {
        let _ = history.replace_state(&JsValue::from_f64(y.round()), "");
    }
}

/// `save_scroll` once scrolling has paused: Back leaves an entry without warning, so the
/// position must already be saved (and browsers limit how often the history may be written).
fn save_scroll_soon() {
    if let Some(pending) = SAVE_TIMER.with(Cell::take) {
        pending.clear();
    }
    let handle = set_timeout_with_handle(
        || {
            SAVE_TIMER.with(|t| t.set(None));
            save_scroll();
        },
        Duration::from_millis(150),
    );
    SAVE_TIMER.with(|t| t.set(handle.ok()));
}

/// Scrolls to `y` (or to the element the fragment names) once the page is tall enough for it:
/// pages render their content when their data arrives. Gives up after three seconds, or when
/// another navigation starts.
fn restore_scroll(y: Option<f64>) {
    let generation = GENERATION.with(|g| {
        g.set(g.get().wrapping_add(1));
        g.get()
    });
    let y = y.unwrap_or(0.0);
    let hash = current().hash;
    let id = hash
        .strip_prefix('#')
        .filter(|h| !h.is_empty())
        .map(|h| String::from(js_sys::decode_uri_component(h).unwrap_or_else(|_| h.into())));
    if id.is_none() && y <= 0.0 {
        window().scroll_to_with_x_and_y(0.0, 0.0);
        return;
    }
    leptos::task::spawn_local(async move {
        for attempt in 0..60 {
            crate::components::sleep(if attempt == 0 { 0 } else { 50 }).await;
            if GENERATION.with(Cell::get) != generation {
                return;
            }
            let w = window();
            if let Some(id) = &id {
                if let Some(el) = document().get_element_by_id(id) {
                    el.scroll_into_view();
                    return;
                }
                continue;
            }
            let room = document()
                .document_element()
                .map(|e| f64::from(e.scroll_height()))
                .unwrap_or(0.0)
                - w.inner_height()
                    .ok()
                    .and_then(|h| h.as_f64())
                    .unwrap_or(0.0);
            if room >= y - 1.0 || attempt == 59 {
                w.scroll_to_with_x_and_y(0.0, y);
                return;
            }
        }
    });
}

/// Where to go after an action (the `next` of the sign-in page, and every other redirect whose
/// target arrived in an address): `raw` resolved against this shop's origin, as path, query
/// and fragment, only when it stays on this origin over http(s). Resolving is what the browser
/// will do with it, so the tricks that fool a prefix check (`/\evil`, tabs and newlines that
/// the URL parser drops, `//evil`, `javascript:`) are judged by the parser that acts on them.
pub fn safe_next(raw: &str) -> Option<String> {
    let origin = window().location().origin().ok()?;
    let url = Url::new_with_base(raw, &origin).ok()?;
    let protocol = url.protocol();
    if url.origin() != origin || !(protocol == "http:" || protocol == "https:") {
        return None;
    }
    let path = url.pathname();
    // `/.//evil.example` resolves to the path `//evil.example`, which, given back to the
    // browser as a link, is another host.
    if !path.starts_with('/') || path.starts_with("//") {
        return None;
    }
    Some(format!("{path}{}{}", url.search(), url.hash()))
}
