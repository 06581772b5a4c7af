//! Folio's web UI (Leptos, client-side rendered). The shop's pages arrive with the web UI issue;
//! this shell proves the crate builds for wasm32 with the shared types.

use leptos::prelude::*;
use shared_types::{Currency, Price};

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    // The same parser the server uses: the UI shows exactly the server's message.
    let example = Price::parse("19.99", Currency::Usd)
        .map(|p| p.to_money().display)
        .unwrap_or_default();
    view! {
        <main>
            <h1>"Folio"</h1>
            <p>"Digital content, sold simply. Prices like " {example} " are exact to the cent."</p>
            <p><a href="/api/docs/">"API reference"</a></p>
        </main>
    }
}
