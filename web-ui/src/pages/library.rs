//! What the signed-in user owns: each product's files with a Download button each (and one
//! ZIP of them all), what changed in a file's latest version, the downloads left under a
//! limit, the end of an access window, and the bundle an item came in.

use leptos::prelude::*;
use shared_types::{DownloadTokenRequest, DownloadTokenResponse, Product, ProductFile};

use crate::api;
use crate::components::{
    date, dynamic, file_kind, is_past, set_title, text, ErrorBox, Loading, Preview, RequireSignIn,
};
use crate::pages::product::human_size;

#[component]
pub fn Library() -> impl IntoView {
    set_title("Library");
    view! { <RequireSignIn><LibraryList/></RequireSignIn> }
}

#[component]
fn LibraryList() -> impl IntoView {
    let items = api::resource(|| "/api/v1/library".to_owned());
    // `?added=<slug>`: a checkout with nothing to pay (a code took it all off, or pay what you
    // want at 0) granted it at once and came here.
    let added = crate::router::query("added").filter(|s| !s.is_empty());
    view! {
        <section>
            <h1>"Your library"</h1>
            {dynamic(move || match api::parsed::<Vec<Product>>(items.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! {
                    <p class="empty">"Nothing here yet. "<a href="/">"Browse the catalog"</a></p>
                }.into_any(),
                Some(Ok(list)) => {
                    let notice = added.as_ref().map(|slug| {
                        let line = match list.iter().find(|p| &p.slug == slug) {
                            Some(p) => format!("It’s yours: “{}” is in your library, nothing to pay.", p.title),
                            None => "It’s yours: nothing to pay. It is in your library.".to_owned(),
                        };
                        view! { <div class="notice saved" role="status" id="library-notice">{line}</div> }
                    });
                    view! {
                        {notice}
                        <ul class="library">
                            {list.into_iter().map(|p| view! { <LibraryItem product=p/> }).collect_view()}
                        </ul>
                    }.into_any()
                }
            })}
        </section>
    }
}

/// A download-token request as the JSON the button sends.
fn body(request: DownloadTokenRequest) -> String {
    serde_json::to_string(&request).unwrap_or_default()
}

/// "3 downloads left", "1 download left", "No downloads left".
fn left_text(n: i64) -> String {
    match n {
        ..=0 => "No downloads left".to_owned(),
        1 => "1 download left".to_owned(),
        n => format!("{n} downloads left"),
    }
}

#[component]
fn LibraryItem(product: Product) -> impl IntoView {
    // The access window, if the product has one: its end, and whether it has come.
    let ended = product
        .access_expires_at
        .as_ref()
        .map(|t| (date(t), is_past(t)));
    let access = ended.clone().map(|(day, past)| {
        let (state, line) = if past {
            ("ended", format!("Access ended on {day}"))
        } else {
            ("open", format!("Access until {day}"))
        };
        view! { <p class="access" data-state=state>{line}</p> }
    });
    let ended_reason = ended
        .filter(|(_, past)| *past)
        .map(|(day, _)| format!("Your access ended on {day}."));
    // Downloads left per file, counted down here as links are issued (each link is one
    // download); the server counts them when the browser follows the link.
    let left: Vec<RwSignal<Option<i64>>> = product
        .files
        .iter()
        .map(|f| RwSignal::new(f.downloads_left))
        .collect();
    let limit = product.download_limit;
    let several = product.files.len() > 1;
    let slug = product.slug.clone();
    let files = product
        .files
        .iter()
        .zip(left.iter().copied())
        .map(|(file, left)| {
            let reason = ended_reason.clone();
            let blocked = Signal::derive(move || {
                reason.clone().or_else(|| {
                    (left.get() == Some(0)).then(|| match limit {
                        Some(n) => format!("You have used all {n} downloads of this file."),
                        None => "No downloads left.".to_owned(),
                    })
                })
            });
            let countdown = Callback::new(move |()| {
                left.update(|n| {
                    if let Some(n) = n {
                        *n = (*n - 1).max(0);
                    }
                })
            });
            view! { <LibraryFile slug=slug.clone() file=file.clone() left=left blocked=blocked countdown=countdown/> }
        })
        .collect_view();
    let all = several.then(|| {
        let names: Vec<String> = product.files.iter().map(|f| f.name.clone()).collect();
        let reason = ended_reason.clone();
        let every = left.clone();
        let blocked = Signal::derive(move || {
            reason.clone().or_else(|| {
                left.iter()
                    .position(|l| l.get() == Some(0))
                    .map(|i| format!("“{}” has no downloads left.", names[i]))
            })
        });
        let countdown = Callback::new(move |()| {
            for l in &every {
                l.update(|n| {
                    if let Some(n) = n {
                        *n = (*n - 1).max(0);
                    }
                })
            }
        });
        let request = body(DownloadTokenRequest {
            file_id: None,
            all: true,
        });
        view! {
            <div class="download-all">
                <FileDownload slug=slug.clone() body=request label="Download all (ZIP)" blocked=blocked on_link=countdown/>
            </div>
        }
    });
    // Owned through a bundle; or a bundle, whose items are listed on their own.
    let via = match (&product.via_bundle, product.bundle_items.len()) {
        (Some(b), _) => Some(view! {
            <p class="via-bundle">"Included in "<a href=format!("/products/{}", b.slug)>{b.title.clone()}</a></p>
        }.into_any()),
        (None, 0) => None,
        (None, n) => Some(view! {
            <p class="via-bundle">{format!("A bundle of {n}: each item is in your library.")}</p>
        }.into_any()),
    };
    view! {
        <li class="library-item" data-slug=product.slug.clone()>
            <Preview product=product.clone()/>
            <div class="library-body">
                <h2><a href=format!("/products/{}", product.slug)>{product.title.clone()}</a></h2>
                {via}
                {access}
                <ul class="library-files">{files}</ul>
                {all}
            </div>
        </li>
    }
}

#[component]
fn LibraryFile(
    slug: String,
    file: ProductFile,
    left: RwSignal<Option<i64>>,
    blocked: Signal<Option<String>>,
    countdown: Callback<()>,
) -> impl IntoView {
    let updated = (file.version > 1).then(|| {
        let line = match &file.note {
            Some(note) if !note.trim().is_empty() => {
                format!("Updated on {}: {}", date(&file.updated_at), note.trim())
            }
            _ => format!("Updated on {}", date(&file.updated_at)),
        };
        view! { <span class="file-updated">{line}</span> }
    });
    let request = body(DownloadTokenRequest {
        file_id: Some(file.id.clone()),
        all: false,
    });
    view! {
        <li class="library-file" data-file=file.id.to_string()>
            <div class="file-text">
                <span class="file-name">{file.name.clone()}</span>
                <span class="file-meta">{format!("{} · {}", file_kind(&file.content_type), human_size(file.size))}</span>
                {updated}
                {dynamic(move || match left.get() {
                    Some(n) => view! { <span class="downloads-left">{left_text(n)}</span> }.into_any(),
                    None => ().into_any(),
                })}
            </div>
            <FileDownload slug=slug body=request blocked=blocked on_link=countdown/>
        </li>
    }
}

/// A Download button for one file or all of them (`body`, the download-token request as
/// JSON): asks for a short-lived link and lets the browser follow it. What the server refuses
/// (a used-up limit, an ended access window) is said beside the button in its words; while
/// `blocked` holds a reason, the button is off and says it.
#[component]
fn FileDownload(
    slug: String,
    body: String,
    #[prop(optional)] label: Option<&'static str>,
    blocked: Signal<Option<String>>,
    /// Called once a link was issued: the download is on its way.
    on_link: Callback<()>,
) -> impl IntoView {
    let (link, set_link) = signal(None::<String>);
    let (error, set_error) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    let label = label.unwrap_or("Download");
    let path = format!("/api/v1/products/{slug}/download-token");
    let download = move |_| {
        let (path, body) = (path.clone(), body.clone());
        set_busy.set(true);
        leptos::task::spawn_local(async move {
            match api::post_text::<DownloadTokenResponse>(&path, Some(body)).await {
                Ok(token) => {
                    set_error.set(None);
                    set_link.set(Some(token.url.clone()));
                    on_link.run(());
                    let _ = window().location().set_href(&token.url);
                }
                Err(e) => set_error.set(Some(e.message)),
            }
            set_busy.set(false);
        });
    };
    view! {
        <div class="download">
            <button class="button download-button" data-slug=slug on:click=download
                disabled=move || busy.get() || blocked.with(Option::is_some)>
                {text(move || if busy.get() { "Preparing…" } else { label })}
            </button>
            {dynamic(move || match (blocked.get(), error.get(), link.get()) {
                (Some(r), _, _) | (None, Some(r), _) => view! {
                    <p class="download-error" role="alert">{r}</p>
                }.into_any(),
                (None, None, Some(url)) => view! {
                    <p class="hint">"Your download should start. If not, "
                        <a class="download-link" href=url download="">"use this link"</a>
                        " (valid for a few minutes)."</p>
                }.into_any(),
                _ => ().into_any(),
            })}
        </div>
    }
}
