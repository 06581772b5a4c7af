//! The mail a membership sends, run by the job queue: the welcome, each renewal's receipt, a
//! failed renewal's notice (with the way to the billing portal) and the notice that it ended.
//! The Message-ID is the job's, so a job that runs again after a crash sends the same message.

use shared_types::{Money, SubscriptionId, SubscriptionStatus};

use super::{repo, Notice};
use crate::jobs::repo::JobRow;
use crate::jobs::worker::JobError;
use crate::mail::{day, templates, Outgoing};
use crate::AppState;

pub async fn send(
    state: &AppState,
    job: &JobRow,
    subscription: &SubscriptionId,
    notice: &Notice,
) -> Result<(), JobError> {
    let id = subscription.clone();
    let (row, plan, email) = state
        .db
        .run(move |conn| Ok(repo::with_member(conn, &id)?))
        .await?
        .ok_or_else(|| JobError::permanent("the subscription no longer exists"))?;
    let grace = state.settings.pricing.past_due_grace_secs;
    let price = Money::new(plan.price_cents, plan.currency).display;
    let per = plan.billing_interval.as_str();
    let membership_url = state.settings.public("/membership");
    let shop_url = state.settings.public("/");
    let (subject, paragraphs, action): (String, Vec<String>, Option<(&str, String)>) = match notice
    {
        Notice::Welcome => (
            format!("Welcome to {}", plan.name),
            vec![
                format!(
                    "Thank you for joining {}: {price} a {per}, renewed automatically until you cancel.",
                    plan.name
                ),
                if plan.all_products {
                    "Everything in the shop is yours to download while you are a member, and so is everything added later.".to_owned()
                } else {
                    "The items of your plan are yours to download while you are a member: they are marked “Included” in the shop.".to_owned()
                },
                "Change your card, see your invoices or cancel at any time from your membership page.".to_owned(),
            ],
            Some(("Browse the shop", shop_url.clone())),
        ),
        Notice::Renewed {
            amount_cents,
            currency,
            invoice_url,
            invoice,
        } => {
            let amount = currency
                .parse::<shared_types::Currency>()
                .map(|c| Money::new(*amount_cents, c).display)
                .unwrap_or_else(|_| format!("{amount_cents} {currency}"));
            let until = row
                .current_period_end
                .map(day)
                .unwrap_or_else(|| "the next renewal".into());
            (
                format!("Your receipt: {}", plan.name),
                vec![
                    format!(
                        "Your membership {} was renewed: {amount} paid. It now runs to {until}.",
                        plan.name
                    ),
                    format!("Invoice {invoice}."),
                ],
                match invoice_url {
                    Some(url) => Some(("View the invoice", url.clone())),
                    None => Some(("Your membership", membership_url.clone())),
                },
            )
        }
        Notice::PaymentFailed { invoice } => {
            // Recovered (or ended) since the failure: a late notice would only confuse.
            if row.status != SubscriptionStatus::PastDue {
                tracing::info!(%invoice, status = row.status.as_str(), "the renewal failure is moot: not sent");
                return Ok(());
            }
            let until = repo::access_until(&row, grace)
                .map(day)
                .unwrap_or_else(|| "soon".into());
            (
                format!("Your payment for {} failed", plan.name),
                vec![
                    format!(
                        "We could not take the {price} renewal of your membership {}: your bank declined the card.",
                        plan.name
                    ),
                    format!(
                        "You keep access until {until}. Update your card in the billing portal and the payment is tried again at once."
                    ),
                ],
                // Opens Stripe's portal for the signed-in member (its sessions last minutes,
                // so the mail carries Folio's link to it, not Stripe's).
                Some((
                    "Update your card",
                    state.settings.public("/membership?portal=1"),
                )),
            )
        }
        Notice::Ended => (
            format!("Your membership {} has ended", plan.name),
            vec![
                format!(
                    "Your membership {} ended on {}. The items it unlocked are no longer yours to download; what you bought outright stays in your library.",
                    plan.name,
                    day(row.ended_at.unwrap_or(row.updated_at))
                ),
                "You can join again at any time.".to_owned(),
            ],
            Some(("Membership plans", membership_url.clone())),
        ),
    };
    let (html, text) = templates::MembershipNotice {
        subject: &subject,
        shop_url: &shop_url,
        paragraphs: &paragraphs,
        action: action.as_ref().map(|(l, u)| (*l, u.as_str())),
    }
    .render()
    .map_err(JobError::permanent)?;
    state
        .mailer
        .send(Outgoing {
            to: email,
            subject,
            text,
            html,
            message_id: state.mailer.message_id(&job.id),
            list_unsubscribe: None,
        })
        .await?;
    Ok(())
}
