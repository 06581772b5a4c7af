//! `/admin/api-keys`: the keys programs use instead of an admin's session, each limited to
//! the scopes it was given. The list (newest first, revoked keys too) and a form that makes a
//! key and shows its secret once: the server keeps only its hash.

use leptos::prelude::*;
use shared_types::{ApiKey, ApiKeyList, ApiKeyRequest, ApiScope, CreatedApiKey, MAX_KEY_NAME};

use super::{
    admin_nav, clear_message, field_message, problems_of, secret_once, show_refusal, Problems,
};
use super::{RequireAdmin, Secret};
use crate::api::{self, ApiError};
use crate::components::{
    date, date_time, dynamic, error_slot, form_error_slot, set_title, text, ErrorBox, FieldMessage,
    Loading,
};

const KEYS: &str = "/api/v1/admin/api-keys";

#[component]
pub fn ApiKeys() -> impl IntoView {
    set_title("Admin · API keys");
    view! { <RequireAdmin><KeysPage/></RequireAdmin> }
}

#[component]
fn KeysPage() -> impl IntoView {
    let keys = api::resource(|| KEYS.to_owned());
    let (error, set_error) = signal(None::<ApiError>);
    let secret = RwSignal::new(None::<Secret>);
    let revoke = move |key: ApiKey| {
        let confirmed = window()
            .confirm_with_message(&format!(
                "Revoke the key “{}”? Programs using it are refused at once; this cannot be undone.",
                key.name
            ))
            .unwrap_or(false);
        if !confirmed {
            return;
        }
        leptos::task::spawn_local(async move {
            match api::post_empty::<ApiKey>(&format!("{KEYS}/{}/revoke", key.id)).await {
                Ok(_) => {
                    set_error.set(None);
                    keys.refetch();
                }
                Err(e) => set_error.set(Some(e)),
            }
        });
    };
    view! {
        <section>
            <h1>"API keys"</h1>
            {admin_nav()}
            <p class="hint page-hint">"A key lets a program use the admin API without a password: send it as "<code>"Authorization: Bearer folio_sk_…"</code>". It can do only what its scopes allow."</p>
            {secret_once(secret)}
            {error_slot(error)}
            {dynamic(move || match api::parsed::<ApiKeyList>(keys.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(list)) if list.items.is_empty() => view! { <p class="empty" id="no-keys">"No API keys yet."</p> }.into_any(),
                Some(Ok(list)) => view! { <div class="table-wrap">{key_table(list.items, revoke)}</div> }.into_any(),
            })}
        </section>
        <KeyForm keys=keys secret=secret/>
    }
}

fn key_table(items: Vec<ApiKey>, revoke: impl Fn(ApiKey) + Copy + Send + 'static) -> impl IntoView {
    view! {
        <table class="table">
            <thead><tr>
                <th>"Name"</th><th>"Key"</th><th>"Scopes"</th><th>"Created"</th><th>"Last used"</th>
                <th>"Status"</th>
            </tr></thead>
            <tbody>
                {items.into_iter().map(|key| {
                    let status = match &key.revoked_at {
                        Some(at) => view! {
                            <span class="amount-stack"><span class="status status-revoked">"revoked"</span><span class="row-note">{date_time(at)}</span></span>
                        }.into_any(),
                        None => {
                            let k = key.clone();
                            view! {
                                <button type="button" class="button small danger revoke-key" on:click=move |_| revoke(k.clone())>"Revoke"</button>
                            }.into_any()
                        }
                    };
                    let scopes = key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                    view! {
                        <tr class="api-key" data-id=key.id.to_string() data-name=key.name.clone() data-revoked=key.revoked_at.is_some().to_string()>
                            <td class="cell-title">{key.name.clone()}</td>
                            <td data-label="Key"><code class="key-prefix">{format!("{}…", key.prefix)}</code></td>
                            <td data-label="Scopes" class="key-scopes">{scopes}</td>
                            <td data-label="Created">{date(&key.created_at)}</td>
                            <td data-label="Last used" class="key-used">{key.last_used_at.as_ref().map(date_time).unwrap_or_else(|| "Never".to_owned())}</td>
                            <td data-label="Status" class="key-status">{status}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn KeyForm(keys: api::Resource, secret: RwSignal<Option<Secret>>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let scopes = RwSignal::new(Vec::<ApiScope>::new());
    let errors: Problems = RwSignal::new(Vec::new());
    let (form_error, set_form_error) = signal(None::<String>);
    let busy = RwSignal::new(false);
    let message = move |field: &'static str| field_message(errors, field);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_form_error.set(None);
        let request = ApiKeyRequest {
            name: name.get_untracked(),
            scopes: scopes.get_untracked(),
        };
        if let Err(found) = request.check() {
            errors.set(problems_of(found));
            return;
        }
        errors.set(Vec::new());
        busy.set(true);
        leptos::task::spawn_local(async move {
            match api::post::<_, CreatedApiKey>(KEYS, &request).await {
                Ok(created) => {
                    secret.set(Some(Secret {
                        what: format!("The key “{}” is made.", created.key.name),
                        value: created.secret,
                    }));
                    name.set(String::new());
                    scopes.set(Vec::new());
                    keys.refetch();
                    scroll_to_top();
                }
                Err(e) => show_refusal(e, errors, set_form_error),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card form-card" id="new-key">
            <h2>"New API key"</h2>
            <form class="form" on:submit=submit novalidate>
                <div class="field">
                    <label for="name">"Name"</label>
                    <input id="name" name="name" maxlength=MAX_KEY_NAME.to_string() autocomplete="off"
                        aria-describedby="name-hint name-error" placeholder="Accounting export"
                        prop:value=name on:input=move |ev| {
                            name.set(event_target_value(&ev));
                            clear_message(errors, "name");
                        }/>
                    <p class="hint" id="name-hint">"What the key is for, to tell it apart later."</p>
                    <FieldMessage field="name" message=message("name")/>
                </div>
                <fieldset class="delivery-fields" id="scopes" aria-describedby="scopes-error">
                    <legend>"Scopes"</legend>
                    {ApiScope::ALL.map(|scope| {
                        let id = format!("scope-{}", scope.as_str().replace(':', "-"));
                        view! {
                            <label class="check scope-choice">
                                <input type="checkbox" class="scope" id=id value=scope.as_str()
                                    prop:checked=move || scopes.with(|s| s.contains(&scope))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        scopes.update(|s| {
                                            s.retain(|x| *x != scope);
                                            if on {
                                                s.push(scope);
                                            }
                                        });
                                        clear_message(errors, "scopes");
                                    }/>
                                <span class="choice-text"><code>{scope.as_str()}</code><span class="hint">{scope.description()}</span></span>
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <FieldMessage field="scopes" message=message("scopes")/>
                {form_error_slot(form_error)}
                <div class="inline-form">
                    <button id="create-key" class="button primary" type="submit" disabled=move || busy.get()>
                        {text(move || if busy.get() { "Making…" } else { "Make key" })}
                    </button>
                </div>
            </form>
        </section>
    }
}

/// Back to the top, where the new secret is shown.
pub(super) fn scroll_to_top() {
    window().scroll_to_with_x_and_y(0.0, 0.0);
}
