//! The page an update notice's unsubscribe link opens (`/unsubscribe?token=…`, which the shop
//! sends on to `/library/unsubscribe?token=…`, in this bundle): it says what the link does and
//! waits for the reader's button (mail scanners open links; opening the page changes nothing).

use leptos::prelude::*;

use crate::api;
use crate::components::{dynamic, set_title, text};
use crate::router;

#[component]
pub fn Unsubscribe() -> impl IntoView {
    set_title("Update emails");
    let token = router::query_memo("token");
    // None: not asked yet; Some(Ok): done; Some(Err(message)): refused.
    let (said, set_said) = signal(None::<Result<(), String>>);
    let (busy, set_busy) = signal(false);
    let stop = move |_| {
        let Some(token) = token.get_untracked().filter(|t| !t.is_empty()) else {
            return;
        };
        set_busy.set(true);
        leptos::task::spawn_local(async move {
            let path = format!(
                "/api/v1/unsubscribe/{}",
                String::from(js_sys::encode_uri_component(&token))
            );
            let answer = api::post_public_empty(&path).await.map_err(|e| {
                if e.code == "link_invalid" {
                    "This unsubscribe link is not valid: it may be incomplete or too old. \
                     Open it again from the latest update email."
                        .to_owned()
                } else {
                    e.message
                }
            });
            set_said.set(Some(answer));
            set_busy.set(false);
        });
    };
    view! {
        <section class="narrow card">
            <h1>"Update emails"</h1>
            <p>"When a file of an item you own gets a new version, Folio can email you about it. \
                This link stops those emails for one item. You keep the item and can download it \
                from your library as before."</p>
            {dynamic(move || match (token.get().filter(|t| !t.is_empty()), said.get()) {
                (None, _) => view! {
                    <div class="error-box" role="alert" id="unsubscribe-error">
                        "This link is incomplete. Open it again from the update email."
                    </div>
                }.into_any(),
                (Some(_), Some(Ok(()))) => view! {
                    <div class="notice" role="status" id="unsubscribed">
                        "Done. You will get no more update emails for this item."
                    </div>
                }.into_any(),
                (Some(_), said) => view! {
                    {said.and_then(Result::err).map(|m| view! {
                        <div class="error-box" role="alert" id="unsubscribe-error">{m}</div>
                    })}
                    <button id="unsubscribe" class="button primary" on:click=stop disabled=busy>
                        {text(move || if busy.get() { "Stopping…" } else { "Stop update emails" })}
                    </button>
                }.into_any(),
            })}
        </section>
    }
}
