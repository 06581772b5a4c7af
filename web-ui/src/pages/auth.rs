//! Sign in and registration. Inputs are checked with the server's own parsers, so the message
//! under a field is the one the server would send; the server's answer is shown the same way.

use leptos::prelude::*;
use shared_types::{CredentialsRequest, Password, TokenResponse};

use crate::api::{self, ApiError};
use crate::components::{form_error_slot, set_title, FieldMessage};
use crate::router;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    SignIn,
    Register,
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
    let (email, set_email) = signal(String::new());
    let (password, set_password) = signal(String::new());
    let (email_error, set_email_error) = signal(None::<String>);
    let (password_error, set_password_error) = signal(None::<String>);
    let (form_error, set_form_error) = signal(None::<String>);
    let (busy, set_busy) = signal(false);

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
            <form class="form" on:submit=submit novalidate>
                <div class="field">
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="email" required
                        aria-describedby="email-error"
                        prop:value=email on:input=move |ev| set_email.set(event_target_value(&ev))/>
                    <FieldMessage field="email" message=email_error.into()/>
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" required
                        autocomplete=if mode == Mode::Register { "new-password" } else { "current-password" }
                        aria-describedby="password-error"
                        prop:value=password on:input=move |ev| set_password.set(event_target_value(&ev))/>
                    <FieldMessage field="password" message=password_error.into()/>
                    {(mode == Mode::Register).then(|| view! { <p class="hint">"8 to 128 characters."</p> })}
                </div>
                {form_error_slot(form_error)}
                <button id="submit" class="button primary" type="submit" disabled=busy>{button}</button>
            </form>
            {other}
        </section>
    }
}
