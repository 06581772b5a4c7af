//! Sign in and registration. Inputs are checked with the server's own parsers, so the message
//! under a field is the one the server would send; the server's answer is shown the same way.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use shared_types::{CredentialsRequest, Email, Password, TokenResponse};

use crate::api::{self, ApiError};
use crate::components::{form_error_slot, set_title, FieldMessage};

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
    let navigate = use_navigate();
    let query = use_query_map();
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
            set_email_error.set(Email::parse(&e).err().map(|x| x.message));
            set_password_error.set(Password::parse(&p).err().map(|x| x.message));
            if email_error.get_untracked().is_some() || password_error.get_untracked().is_some() {
                return;
            }
        }
        let next = query
            .with_untracked(|q| q.get("next"))
            .filter(|n| n.starts_with('/') && !n.starts_with("//"));
        let navigate = navigate.clone();
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
                Ok(()) => navigate(next.as_deref().unwrap_or("/"), Default::default()),
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
    let (title, button, other) = match mode {
        Mode::SignIn => (
            "Sign in",
            "Sign in",
            view! { <p>"New here? "<A href="/register">"Create an account"</A></p> }.into_any(),
        ),
        Mode::Register => (
            "Create your account",
            "Create account",
            view! { <p>"Have an account? "<A href="/signin">"Sign in"</A></p> }.into_any(),
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
                    <Show when=move || mode == Mode::Register>
                        <p class="hint">"8 to 128 characters."</p>
                    </Show>
                </div>
                {form_error_slot(form_error)}
                <button id="submit" class="button primary" type="submit" disabled=busy>{button}</button>
            </form>
            {other}
        </section>
    }
}
