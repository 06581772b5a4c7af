//! The mail an order sends: its receipt when paid (again when asked), and a notice when
//! refunded. Run by the job queue; the Message-ID is the job's, so a job that runs again after a
//! crash sends the same message.

use shared_types::{Money, OrderId};

use super::repo;
use crate::auth::links;
use crate::jobs::repo::JobRow;
use crate::jobs::worker::JobError;
use crate::mail::{day, templates, Outgoing};
use crate::AppState;

/// What a message about an order shows.
struct About {
    email: String,
    title: String,
    amount: Money,
    order_id: String,
    day: String,
    /// For an account without a password: a sign-in link made for this message.
    sign_in_url: Option<String>,
}

async fn about(state: &AppState, order: &OrderId, with_sign_in: bool) -> Result<About, JobError> {
    let (id, ttl) = (order.clone(), state.settings.link_ttl_secs);
    let found = state
        .db
        .write(move |conn| {
            let Some((row, _slug, title, email)) = repo::order_listing(conn, &id)? else {
                return Ok(None);
            };
            let user = crate::auth::repo::find_user(conn, &row.user_id)?;
            // A guest's account has no password: the receipt is how they get in.
            let token = match user {
                Some(u) if with_sign_in && u.password_hash.is_none() => {
                    Some(links::make_token(conn, &u.id, links::Purpose::SignIn, ttl)?)
                }
                _ => None,
            };
            Ok(Some((row, title, email, token)))
        })
        .await?;
    let Some((row, title, email, token)) = found else {
        return Err(JobError::permanent("the order no longer exists"));
    };
    Ok(About {
        email,
        title,
        // What was charged, tax included, once Stripe has said.
        amount: Money::new(row.total_cents.unwrap_or(row.amount_cents), row.currency),
        order_id: row.id.to_string(),
        day: day(row.paid_at.unwrap_or(row.created_at)),
        sign_in_url: token.map(|t| links::sign_in_url(state, &t)),
    })
}

pub async fn receipt(state: &AppState, job: &JobRow, order: &OrderId) -> Result<(), JobError> {
    let a = about(state, order, true).await?;
    let subject = format!("Your receipt: {}", a.title);
    let (shop, library, sign_in_page) = (
        state.settings.public("/"),
        state.settings.public("/library"),
        state.settings.public("/signin"),
    );
    let currency = a.amount.currency.code().to_ascii_uppercase();
    let minutes = state.settings.link_ttl_secs / 60;
    let (html, text) = templates::Receipt {
        subject: &subject,
        shop_url: &shop,
        title: &a.title,
        amount: &a.amount.display,
        currency: &currency,
        order_id: &a.order_id,
        date: &a.day,
        library_url: &library,
        sign_in_url: a.sign_in_url.as_deref(),
        sign_in_page: &sign_in_page,
        link_minutes: minutes,
    }
    .render()
    .map_err(JobError::permanent)?;
    state
        .mailer
        .send(Outgoing {
            to: a.email,
            subject,
            text,
            html,
            message_id: state.mailer.message_id(&job.id),
            list_unsubscribe: None,
        })
        .await?;
    Ok(())
}

pub async fn refund_notice(
    state: &AppState,
    job: &JobRow,
    order: &OrderId,
) -> Result<(), JobError> {
    let a = about(state, order, false).await?;
    let subject = format!("Refunded: {}", a.title);
    let shop = state.settings.public("/");
    let currency = a.amount.currency.code().to_ascii_uppercase();
    let (html, text) = templates::Refund {
        subject: &subject,
        shop_url: &shop,
        title: &a.title,
        amount: &a.amount.display,
        currency: &currency,
        order_id: &a.order_id,
    }
    .render()
    .map_err(JobError::permanent)?;
    state
        .mailer
        .send(Outgoing {
            to: a.email,
            subject,
            text,
            html,
            message_id: state.mailer.message_id(&job.id),
            list_unsubscribe: None,
        })
        .await?;
    Ok(())
}
