//! Sign in and registration. Inputs are checked with the server's own parsers, so the message
//! under a field is the one the server would send; the server's answer is shown the same way.
//!
//! Signing in without the password and a forgotten password are pages of the account bundle
//! (`/signin/link`, `/reset-password`: the pages the mailed links open, which ask for a link
//! when opened without one), so the shop carries only the links to them.

use leptos::prelude::*;
use shared_types::{CredentialsRequest, Password, TokenResponse};

use crate::api::{self, ApiError};
use crate::components::{form_error_slot, set_title, FieldMessage};
use crate::router;

/// Where the address typed into the sign-in form is kept for the link pages (this tab's
/// sessionStorage: they are another bundle, a page load away), so it is not asked for twice.
pub const TYPED_EMAIL_KEY: &str = "folio_typed_email";

/// The address typed last into a sign-in or link form, in this tab.
pub fn typed_email() -> String {
    api::tab_storage()
        .and_then(|s| s.get_item(TYPED_EMAIL_KEY).ok().flatten())
        .unwrap_or_default()
}

pub fn remember_email(email: &str) {
    if let Some(s) = api::tab_storage() {
        let _ = s.set_item(TYPED_EMAIL_KEY, email);
    }
}

#[component]
pub fn SignIn() -> impl IntoView {
    set_title("Sign in");
    view! { <CredentialsForm mode=Mode::SignIn/> }
}

#[component]
pub fn Register() -> impl IntoView {
    set_title("Create account");
    view! { <CredentialsForm mode=Mode::Register/> }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    SignIn,
    Register,
}

#[component]
fn CredentialsForm(mode: Mode) -> impl IntoView {
    let session = api::session();
    // Where to go once signed in: `next` if it stays on this shop, else the catalog. Kept
    // when switching between sign-in and registration.
    let next = move || {
        router::query("next")
            .and_then(|n| router::safe_next(&n))
            .unwrap_or_else(|| "/".to_owned())
    };
    let (email, set_email) = signal(typed_email());
    let (password, set_password) = signal(String::new());
    let (email_error, set_email_error) = signal(None::<String>);
    let (password_error, set_password_error) = signal(None::<String>);
    let (form_error, set_form_error) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    // Back from choosing a new password (the reset page sends the reader here).
    let reset = router::query("password").as_deref() == Some("reset");

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (e, p) = (email.get_untracked(), password.get_untracked());
        set_form_error.set(None);
        if mode == Mode::Register {
            // The password with the server's own parser, before anything is sent. The email is
            // left to the server, whose answer shows under the field the same way: its parser
            // lowercases with Unicode's case tables, about 5 KB of a shopper's download.
            set_email_error.set(None);
            set_password_error.set(Password::parse(&p).err().map(|x| x.message));
            if password_error.get_untracked().is_some() {
                return;
            }
        }
        let next = next();
        set_busy.set(true);
        leptos::task::spawn_local(async move {
            let path = if mode == Mode::Register {
                "/api/v1/auth/register"
            } else {
                "/api/v1/auth/login"
            };
            let result: Result<(), ApiError> = async {
                let tokens: TokenResponse = api::post_public(
                    path,
                    &CredentialsRequest {
                        email: e,
                        password: p,
                    },
                )
                .await?;
                api::sign_in_with(session, tokens).await
            }
            .await;
            set_busy.set(false);
            match result {
                // A redirect: Back should not return to the form.
                Ok(()) => router::navigate(&next, true),
                Err(err) => {
                    set_email_error.set(err.field("email"));
                    set_password_error.set(err.field("password"));
                    if err.fields.is_empty() {
                        set_form_error.set(Some(err.message));
                    }
                }
            }
        });
    };
    let other_href = move |path: &str| {
        let next = next();
        if next == "/" {
            path.to_owned()
        } else {
            format!(
                "{path}?next={}",
                String::from(js_sys::encode_uri_component(&next))
            )
        }
    };
    let (title, button, other) = match mode {
        Mode::SignIn => (
            "Sign in",
            "Sign in",
            view! { <p>"New here? "<a href=other_href("/register") id="to-register">"Create an account"</a></p> }.into_any(),
        ),
        Mode::Register => (
            "Create your account",
            "Create account",
            view! { <p>"Have an account? "<a href=other_href("/signin") id="to-signin">"Sign in"</a></p> }.into_any(),
        ),
    };
    view! {
        <section class="narrow card">
            <h1>{title}</h1>
            {reset.then(|| view! {
                <div class="notice" role="status" id="password-was-reset">"Your new password is set, and every session of your account has ended. Sign in with the new password."</div>
            })}
            <form class="form" on:submit=submit novalidate>
                <div class="field">
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="email" required
                        aria-describedby="email-error"
                        prop:value=email on:input=move |ev| {
                            let v = event_target_value(&ev);
                            remember_email(&v);
                            set_email.set(v);
                        }/>
                    <FieldMessage field="email" message=email_error.into()/>
                </div>
                <div class="field">
                    <div class="label-row">
                        <label for="password">"Password"</label>
                        {(mode == Mode::SignIn).then(|| view! { <a href="/reset-password" id="forgot-password" class="small-link">"Forgot password?"</a> })}
                    </div>
                    <input id="password" name="password" type="password" required
                        autocomplete=if mode == Mode::Register { "new-password" } else { "current-password" }
                        aria-describedby="password-error"
                        prop:value=password on:input=move |ev| set_password.set(event_target_value(&ev))/>
                    <FieldMessage field="password" message=password_error.into()/>
                    {(mode == Mode::Register).then(|| view! { <p class="hint">"8 to 128 characters."</p> })}
                </div>
                {form_error_slot(form_error)}
                <button id="submit" class="button primary" type="submit" disabled=busy>{button}</button>
                {(mode == Mode::SignIn).then(|| view! {
                    <a href="/signin/link" id="email-link" class="button secondary">"Email me a sign-in link instead"</a>
                })}
            </form>
            {other}
        </section>
    }
}
