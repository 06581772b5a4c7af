//! The edit page's Files and Buyers panels: a product's files (upload several, rename, reorder,
//! remove, new versions with their history and update notices) and who owns it, with their
//! downloads per file and a reset.

use leptos::prelude::*;
use shared_types::{
    EntitlementSummary, FileHistory, NewVersionResponse, Product, ProductFile, UpdateFileRequest,
};
use wasm_bindgen::JsCast;
use web_sys::{FormData, HtmlInputElement};

use crate::api::{self, ApiError};
use crate::components::{date, date_time, dynamic, file_kind, sleep, ErrorBox, Loading};
use crate::pages::product::human_size;
use crate::upload::send_form;

/// What the two panels share: the product and its files, in order (each file its own signal,
/// so a row keeps its open forms while others change).
#[derive(Clone, Copy)]
pub struct Files {
    product: StoredValue<String>,
    list: RwSignal<Vec<RwSignal<ProductFile>>>,
    /// Whether the product stamps PDFs (as last saved).
    stamping: Signal<bool>,
    max_bytes: StoredValue<u64>,
}

impl Files {
    pub fn new(product: &Product, stamping: Signal<bool>, max_bytes: u64) -> Self {
        Self {
            product: StoredValue::new(product.id.to_string()),
            list: RwSignal::new(product.files.iter().cloned().map(RwSignal::new).collect()),
            stamping,
            max_bytes: StoredValue::new(max_bytes),
        }
    }

    fn base(&self) -> String {
        format!("/api/v1/admin/products/{}/files", self.product.get_value())
    }

    fn path(&self, file: &str) -> String {
        format!("{}/{file}", self.base())
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.list.with_untracked(|l| {
            l.iter()
                .position(|f| f.with_untracked(|f| f.id.to_string() == id))
        })
    }

    fn too_large(&self, file: &web_sys::File) -> Option<String> {
        let max = self.max_bytes.get_value();
        (file.size() > max as f64)
            .then(|| format!("{} is larger than {}", file.name(), super::limit_text(max)))
    }
}

fn chosen_files(node: &NodeRef<leptos::html::Input>) -> Vec<web_sys::File> {
    let Some(list) = node
        .get_untracked()
        .and_then(|el| el.unchecked_into::<HtmlInputElement>().files())
    else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

fn clear_input(node: &NodeRef<leptos::html::Input>) {
    if let Some(el) = node.get_untracked() {
        el.unchecked_into::<HtmlInputElement>().set_value("");
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// One upload of the Add files form, with its own progress.
#[derive(Clone)]
struct Upload {
    name: String,
    progress: RwSignal<u32>,
    /// `None` while it runs (or waits); then done, or why not.
    outcome: RwSignal<Option<Result<(), String>>>,
}

#[component]
pub fn FilesPanel(files: Files) -> impl IntoView {
    let picker = NodeRef::<leptos::html::Input>::new();
    let uploads = RwSignal::new(Vec::<Upload>::new());
    let (busy, set_busy) = signal(false);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let chosen = chosen_files(&picker);
        if chosen.is_empty() {
            return;
        }
        let batch: Vec<(web_sys::File, Upload)> = chosen
            .into_iter()
            .map(|f| {
                let u = Upload {
                    name: f.name(),
                    progress: RwSignal::new(0),
                    outcome: RwSignal::new(None),
                };
                (f, u)
            })
            .collect();
        uploads.set(batch.iter().map(|(_, u)| u.clone()).collect());
        clear_input(&picker);
        set_busy.set(true);
        leptos::task::spawn_local(async move {
            // One at a time: each streams to storage, and the list grows in the chosen order.
            for (file, upload) in batch {
                if let Some(problem) = files.too_large(&file) {
                    upload.outcome.set(Some(Err(problem)));
                    continue;
                }
                let form = FormData::new().expect("FormData exists in browsers");
                let _ = form.append_with_blob_and_filename("file", &file, &file.name());
                let answer = send_form::<ProductFile>(
                    "POST",
                    &files.base(),
                    form,
                    upload.progress.write_only(),
                )
                .await;
                match answer {
                    Ok(added) => {
                        files.list.update(|l| l.push(RwSignal::new(added)));
                        upload.outcome.set(Some(Ok(())));
                    }
                    Err(e) => upload.outcome.set(Some(Err(e.message))),
                }
            }
            set_busy.set(false);
        });
    };
    view! {
        <section class="card panel" id="files-panel" aria-labelledby="files-heading">
            <h2 id="files-heading">"Files"</h2>
            <p class="hint">"Buyers download each file on its own, or all of them as one ZIP, in this order."</p>
            <ol class="admin-files">
                <For each=move || files.list.get() key={|f: &RwSignal<ProductFile>| f.with_untracked(|f| f.id.to_string())} let:entry>
                    <FileRow files=files file=entry/>
                </For>
            </ol>
            <form class="form add-files" on:submit=add novalidate>
                <div class="field">
                    <label for="add-files">"Add files"</label>
                    <input id="add-files" type="file" multiple node_ref=picker/>
                    <p class="hint">{move || format!("Any kind of file, up to {} each.", super::limit_text(files.max_bytes.get_value()))}</p>
                </div>
                <ul class="uploads">
                    {move || uploads.get().into_iter().map(|u| {
                        let outcome = u.outcome;
                        view! {
                            <li class="upload" data-name=u.name.clone()>
                                <span class="upload-name">{u.name.clone()}</span>
                                <div class="progress">
                                    <progress max="100" prop:value=move || u.progress.get()></progress>
                                    <span class="upload-percent">{move || format!("{}%", u.progress.get())}</span>
                                </div>
                                {move || match outcome.get() {
                                    Some(Ok(())) => view! { <span class="upload-done" role="status">"Added"</span> }.into_any(),
                                    Some(Err(m)) => view! { <span class="field-error upload-error" role="alert">{m}</span> }.into_any(),
                                    None => ().into_any(),
                                }}
                            </li>
                        }
                    }).collect_view()}
                </ul>
                <button id="upload-files" class="button" type="submit" disabled=busy>
                    {move || if busy.get() { "Uploading…" } else { "Upload files" }}
                </button>
            </form>
        </section>
    }
}

/// Which of a row's forms is open.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Nothing,
    Rename,
    Remove,
    Version,
}

#[component]
fn FileRow(files: Files, file: RwSignal<ProductFile>) -> impl IntoView {
    let id = file.with_untracked(|f| f.id.to_string());
    let open = RwSignal::new(Open::Nothing);
    let history = RwSignal::new(false);
    let history_tick = RwSignal::new(0u32);
    let (error, set_error) = signal(None::<String>);
    let (said, set_said) = signal(None::<String>);
    let busy = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let keep = RwSignal::new(true);
    let note = RwSignal::new(String::new());
    let notify = RwSignal::new(false);
    let (progress, set_progress) = signal(0u32);
    let version_file = NodeRef::<leptos::html::Input>::new();

    let toggle = move |which: Open| {
        set_error.set(None);
        if which == Open::Rename {
            name.set(file.with_untracked(|f| f.name.clone()));
        }
        open.update(|o| *o = if *o == which { Open::Nothing } else { which });
    };
    let first = {
        let id = id.clone();
        move || files.list.with(|_| files.index_of(&id)) == Some(0)
    };
    let last = {
        let id = id.clone();
        move || {
            let n = files.list.with(Vec::len);
            files.list.with(|_| files.index_of(&id)) == Some(n.saturating_sub(1))
        }
    };
    let move_by = {
        let id = id.clone();
        move |step: i32| {
            let Some(from) = files.index_of(&id) else {
                return;
            };
            let to = from as i32 + step;
            if to < 0 || to as usize >= files.list.with_untracked(Vec::len) {
                return;
            }
            let path = files.path(&id);
            busy.set(true);
            leptos::task::spawn_local(async move {
                let body = UpdateFileRequest {
                    name: None,
                    position: Some(to),
                };
                match api::patch::<_, ProductFile>(&path, &body).await {
                    Ok(moved) => {
                        set_error.set(None);
                        file.set(moved);
                        files.list.update(|l| {
                            let item = l.remove(from);
                            l.insert(to as usize, item);
                        });
                    }
                    Err(e) => set_error.set(Some(e.message)),
                }
                busy.set(false);
            });
        }
    };
    let rename = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let path = files.path(&id);
            let body = UpdateFileRequest {
                name: Some(name.get_untracked()),
                position: None,
            };
            busy.set(true);
            leptos::task::spawn_local(async move {
                match api::patch::<_, ProductFile>(&path, &body).await {
                    Ok(renamed) => {
                        set_error.set(None);
                        file.set(renamed);
                        open.set(Open::Nothing);
                    }
                    Err(e) => set_error.set(Some(e.field("name").unwrap_or(e.message))),
                }
                busy.set(false);
            });
        }
    };
    let remove = {
        let id = id.clone();
        move |_: leptos::ev::MouseEvent| {
            let path = format!(
                "{}?keep_for_owners={}",
                files.path(&id),
                keep.get_untracked()
            );
            let id = id.clone();
            busy.set(true);
            leptos::task::spawn_local(async move {
                match api::delete(&path).await {
                    Ok(()) => files
                        .list
                        .update(|l| l.retain(|f| f.with_untracked(|f| f.id.to_string() != id))),
                    Err(e) => {
                        set_error.set(Some(e.message));
                        busy.set(false);
                    }
                }
            });
        }
    };
    let upload_version = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let Some(chosen) = chosen_files(&version_file).into_iter().next() else {
                set_error.set(Some("Choose the new version's file.".into()));
                return;
            };
            if let Some(problem) = files.too_large(&chosen) {
                set_error.set(Some(problem));
                return;
            }
            let form = FormData::new().expect("FormData exists in browsers");
            let _ = form.append_with_blob_and_filename("file", &chosen, &chosen.name());
            let text = note.get_untracked();
            if !text.trim().is_empty() {
                let _ = form.append_with_str("note", text.trim());
            }
            if notify.get_untracked() {
                let _ = form.append_with_str("notify_buyers", "true");
            }
            let versions = format!("{}/versions", files.path(&id));
            set_error.set(None);
            set_said.set(None);
            set_progress.set(0);
            busy.set(true);
            leptos::task::spawn_local(async move {
                let answer =
                    send_form::<NewVersionResponse>("POST", &versions, form, set_progress).await;
                busy.set(false);
                let created = match answer {
                    Ok(created) => created,
                    Err(e) => {
                        set_error.set(Some(e.field("note").unwrap_or(e.message)));
                        return;
                    }
                };
                file.set(created.file.clone());
                open.set(Open::Nothing);
                note.set(String::new());
                notify.set(false);
                history.set(true);
                let v = created.version.version;
                if !created.notifying {
                    set_said.set(Some(format!(
                        "Version {v} uploaded. Buyers were not emailed."
                    )));
                    history_tick.update(|t| *t += 1);
                    return;
                }
                set_said.set(Some(format!(
                    "Version {v} uploaded. Queueing update notices…"
                )));
                // The notices are queued by a job: ask the history until they show (or a while
                // has passed, as with no buyers to tell).
                for attempt in 0..24 {
                    if let Ok(h) = api::get::<FileHistory>(&versions).await {
                        let queued = h
                            .versions
                            .iter()
                            .find(|x| x.id == created.version.id)
                            .map_or(0, |x| x.notices_queued);
                        if queued > 0 || attempt == 23 {
                            set_said.try_set(Some(format!(
                                "Version {v} uploaded. {} queued.",
                                plural(queued, "notice", "notices")
                            )));
                            break;
                        }
                    }
                    sleep(500).await;
                }
                history_tick.try_update(|t| *t += 1);
            });
        }
    };

    let meta = move || {
        file.with(|f| {
            format!(
                "{} · {} · version {}",
                file_kind(&f.content_type),
                human_size(f.size),
                f.version
            )
        })
    };
    let label = move || file.with(|f| f.name.clone());
    let history_id = id.clone();
    let rename_id = format!("rename-{id}");
    view! {
        <li class="admin-file" data-file=id.clone()>
            <div class="admin-file-head">
                <span class="file-name">{label}</span>
                <span class="file-meta">{meta}</span>
            </div>
            <div class="file-actions">
                <button type="button" class="button small secondary rename" on:click=move |_| toggle(Open::Rename)>"Rename"</button>
                <button type="button" class="button small secondary move-up" aria-label=move || format!("Move {} up", label())
                    disabled=move || busy.get() || first() on:click={let m = move_by.clone(); move |_| m(-1)}>"↑"</button>
                <button type="button" class="button small secondary move-down" aria-label=move || format!("Move {} down", label())
                    disabled=move || busy.get() || last() on:click={let m = move_by.clone(); move |_| m(1)}>"↓"</button>
                <button type="button" class="button small secondary new-version" on:click=move |_| toggle(Open::Version)>"New version"</button>
                <button type="button" class="button small secondary show-history" aria-expanded=move || history.get().to_string()
                    on:click=move |_| history.update(|h| *h = !*h)>"History"</button>
                <button type="button" class="button small danger remove" on:click=move |_| toggle(Open::Remove)>"Remove"</button>
            </div>
            {move || error.get().map(|m| view! { <p class="field-error file-error" role="alert">{m}</p> })}
            {move || said.get().map(|m| view! { <p class="notice version-notice" role="status">{m}</p> })}
            {
                let rename = rename.clone();
                let remove = remove.clone();
                let upload_version = upload_version.clone();
                let rename_id = rename_id.clone();
                move || match open.get() {
                Open::Nothing => ().into_any(),
                Open::Rename => view! {
                    <form class="inline-form rename-form" on:submit=rename.clone() novalidate>
                        <label class="visually-hidden" for=rename_id.clone()>"New name"</label>
                        <input class="rename-input" maxlength="150" id=rename_id.clone() prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                        <button type="submit" class="button small save-name" disabled=move || busy.get()>"Save name"</button>
                        <button type="button" class="button small secondary" on:click=move |_| open.set(Open::Nothing)>"Cancel"</button>
                    </form>
                }.into_any(),
                Open::Remove => view! {
                    <div class="confirm-remove" role="group" aria-label="Remove this file">
                        <p>{format!("Remove “{}” from the product?", label())}</p>
                        <label class="check">
                            <input type="checkbox" class="keep-for-owners" prop:checked=keep on:change=move |ev| keep.set(event_target_checked(&ev))/>
                            "Buyers who own it keep this file"
                        </label>
                        <div class="inline-form">
                            <button type="button" class="button small danger confirm" disabled=move || busy.get() on:click=remove.clone()>"Remove file"</button>
                            <button type="button" class="button small secondary" on:click=move |_| open.set(Open::Nothing)>"Cancel"</button>
                        </div>
                    </div>
                }.into_any(),
                Open::Version => view! {
                    <form class="form version-form" on:submit=upload_version.clone() novalidate>
                        <div class="field">
                            <label>"New version" <input type="file" class="version-file" node_ref=version_file/></label>
                        </div>
                        <div class="field">
                            <label>"What changed (optional)"
                                <textarea class="version-note" rows="2" maxlength="2000" prop:value=note on:input=move |ev| note.set(event_target_value(&ev))></textarea>
                            </label>
                        </div>
                        <label class="check">
                            <input type="checkbox" class="notify-buyers" prop:checked=notify on:change=move |ev| notify.set(event_target_checked(&ev))/>
                            "Tell buyers by email"
                        </label>
                        <Show when={move || busy.get() || progress.get() > 0}>
                            <div class="progress">
                                <progress max="100" prop:value=move || progress.get()></progress>
                                <span class="upload-percent">{move || format!("{}%", progress.get())}</span>
                            </div>
                        </Show>
                        <div class="inline-form">
                            <button type="submit" class="button small upload-version" disabled=move || busy.get()>
                                {move || if busy.get() { "Uploading…" } else { "Upload version" }}
                            </button>
                            <button type="button" class="button small secondary" on:click=move |_| open.set(Open::Nothing)>"Cancel"</button>
                        </div>
                    </form>
                }.into_any(),
            }}
            <Show when=move || history.get()>
                <VersionHistory files=files file=history_id.clone() tick=history_tick/>
            </Show>
        </li>
    }
}

#[component]
fn VersionHistory(files: Files, file: String, tick: RwSignal<u32>) -> impl IntoView {
    let path = format!("{}/versions", files.path(&file));
    let history = api::resource(move || {
        tick.track();
        path.clone()
    });
    let stamping = files.stamping;
    view! {
        <div class="versions">
            {move || match api::parsed::<FileHistory>(history.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(h)) => {
                    let stamps = stamping.get();
                    view! {
                        <div class="table-wrap">
                        <table class="table">
                            <thead><tr>
                                <th>"Version"</th><th>"Uploaded"</th><th>"Size"</th><th>"Note"</th><th>"Notices"</th>
                                {stamps.then(|| view! { <th>"Stamping"</th> })}
                            </tr></thead>
                            <tbody>
                                {h.versions.into_iter().map(|v| {
                                    let stamp = stamps.then(|| {
                                        let (class, text) = match (&v.stamp_error, v.content_type == "application/pdf") {
                                            (Some(e), _) => ("stamp-error", format!("Not stamped: {e}")),
                                            (None, true) => ("stamp-ok", "Stamped for each buyer".to_owned()),
                                            (None, false) => ("stamp-none", "Not a PDF".to_owned()),
                                        };
                                        view! { <td data-label="Stamping" class=class>{text}</td> }
                                    });
                                    view! {
                                        <tr class="file-version" data-version=v.version.to_string()>
                                            <td class="cell-title">{format!("Version {}", v.version)}</td>
                                            <td data-label="Uploaded">{date_time(&v.uploaded_at)}</td>
                                            <td data-label="Size">{human_size(v.size)}</td>
                                            <td data-label="Note" class="version-note-text">{v.note.clone().unwrap_or_else(|| "—".into())}</td>
                                            <td data-label="Notices" class="notices">{format!("{} queued · {} sent", v.notices_queued, v.notices_sent)}</td>
                                            {stamp}
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                        <button type="button" class="button small secondary refresh-history" on:click=move |_| tick.update(|t| *t += 1)>"Refresh"</button>
                    }.into_any()
                }
            }}
        </div>
    }
}

/// Who owns the product, with their downloads of each file, and a reset for each.
#[component]
pub fn Buyers(files: Files) -> impl IntoView {
    let tick = RwSignal::new(0u32);
    let path = format!(
        "/api/v1/admin/products/{}/entitlements",
        files.product.get_value()
    );
    let buyers = api::resource(move || {
        tick.track();
        path.clone()
    });
    let (error, set_error) = signal(None::<ApiError>);
    let (said, set_said) = signal(None::<String>);
    let reset = move |e: EntitlementSummary| {
        leptos::task::spawn_local(async move {
            let path = format!("/api/v1/admin/entitlements/{}/reset-downloads", e.id);
            match api::post_no_content(&path).await {
                Ok(()) => {
                    set_error.set(None);
                    set_said.set(Some(format!("Downloads reset for {}.", e.email)));
                    tick.update(|t| *t += 1);
                }
                Err(err) => set_error.set(Some(err)),
            }
        });
    };
    view! {
        <section class="card panel" id="buyers-panel" aria-labelledby="buyers-heading">
            <div class="panel-head">
                <h2 id="buyers-heading">"Buyers"</h2>
                <button type="button" class="button small secondary" id="refresh-buyers" on:click=move |_| tick.update(|t| *t += 1)>"Refresh"</button>
            </div>
            {move || error.get().map(|e| view! { <ErrorBox error=e/> })}
            {move || said.get().map(|m| view! { <p class="notice" role="status" id="buyers-notice">{m}</p> })}
            {dynamic(move || match api::parsed::<Vec<EntitlementSummary>>(buyers.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"No one owns it yet."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <div class="table-wrap">
                    <table class="table">
                        <thead><tr><th>"Buyer"</th><th>"Access"</th><th>"Downloads"</th><th><span class="visually-hidden">"Actions"</span></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|e| {
                                let access = match &e.access_expires_at {
                                    Some(t) if crate::components::is_past(t) => format!("Ended on {}", date(t)),
                                    Some(t) => format!("Until {}", date(t)),
                                    None => "For ever".to_owned(),
                                };
                                // Every current file, with what this buyer used of it.
                                let counts = files.list.with_untracked(|l| l.iter().map(|f| f.get_untracked()).collect::<Vec<_>>())
                                    .into_iter()
                                    .map(|f| {
                                        let used = e.downloads.iter().find(|d| d.file_id == f.id).map_or(0, |d| d.used);
                                        view! { <li data-file=f.id.to_string()>{format!("{}: {used}", f.name)}</li> }
                                    })
                                    .collect_view();
                                let for_reset = e.clone();
                                view! {
                                    <tr class="buyer" data-email=e.email.clone()>
                                        <td class="cell-title cell-email">{e.email.clone()}
                                            <span class="row-note">{format!("Since {}", date(&e.granted_at))}</span>
                                        </td>
                                        <td data-label="Access">{access}</td>
                                        <td data-label="Downloads"><ul class="counts">{counts}</ul></td>
                                        <td class="row-actions">
                                            <button type="button" class="button small secondary reset-downloads" on:click=move |_| reset(for_reset.clone())>"Reset downloads"</button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any(),
            })}
        </section>
    }
}
