//! One delivery attempt, run by the job queue: where it may go, the signed request, the log
//! entry, and what a failure means for the endpoint.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use shared_types::{DeliveryOutcome, WebhookEndpointId};

use super::repo::{self, DeliveryRow};
use crate::jobs::repo::JobRow;
use crate::jobs::worker::JobError;
use crate::AppState;

/// Whether a request to `ip` could reach the machine itself or its private network.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10 (carrier-grade NAT) and 0.0.0.0/8.
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// The URL's scheme, host and port, refused when they cannot be a public http(s) endpoint.
/// With `refuse_private`, a literal private address is refused here already; names are
/// resolved at delivery.
pub fn check_url_shape(raw: &str, refuse_private: bool) -> Result<url::Url, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("This is not a URL ({e})."))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("Only http:// and https:// URLs can receive webhooks.".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Put no credentials in the URL: verify the signature instead.".into());
    }
    let Some(host) = url.host() else {
        return Err("The URL names no host.".into());
    };
    if refuse_private {
        let literal = match host {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            url::Host::Domain(d)
                if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") =>
            {
                Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
            }
            url::Host::Domain(_) => None,
        };
        if literal.is_some_and(is_private) {
            return Err(
                "Webhooks go only to public addresses: this one is loopback, link-local or private."
                    .into(),
            );
        }
    }
    Ok(url)
}

/// Where the request goes: the URL's host resolved now, every address checked when private
/// targets are refused; the first allowed one is used (and pinned, so the connection goes
/// where the check looked).
async fn resolve(url: &url::Url, refuse_private: bool) -> Result<SocketAddr, String> {
    let host = url.host_str().ok_or("the URL names no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    // Loopback by definition (RFC 6761), whatever this machine's resolver makes of the name
    // (glibc does not resolve `localhost.`, so it would fail and be retried instead).
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if refuse_private && (name == "localhost" || name.ends_with(".localhost")) {
        return Err(format!("{host} is a localhost name (loopback): not sent"));
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("could not resolve {host}: {e}"))?
        .collect();
    if refuse_private {
        if let Some(bad) = addrs.iter().find(|a| is_private(a.ip())) {
            return Err(format!(
                "{host} resolves to {} (loopback, link-local or private): not sent",
                bad.ip()
            ));
        }
    }
    addrs
        .into_iter()
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

/// `t=<t>,v1=<sig>[,v1=<sig of the previous secret>]`.
pub fn signature_header(secrets: &[&str], timestamp: i64, body: &str) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(format!("{timestamp}.{body}").as_bytes());
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac.finalize().into_bytes()));
    }
    header
}

fn excerpt(text: &str) -> String {
    if text.len() <= super::EXCERPT_BYTES {
        return text.to_owned();
    }
    let mut end = super::EXCERPT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

struct Attempt {
    outcome: DeliveryOutcome,
    status: Option<i32>,
    response: String,
}

async fn send(
    state: &AppState,
    url: &url::Url,
    secrets: &[&str],
    event_id: &str,
    event_type: &str,
    body: &str,
) -> Attempt {
    let refuse_private = state.settings.webhooks.refuse_private;
    let address = match resolve(url, refuse_private).await {
        Ok(a) => a,
        Err(message) if message.contains("not sent") => {
            return Attempt {
                outcome: DeliveryOutcome::Refused,
                status: None,
                response: message,
            }
        }
        Err(message) => {
            return Attempt {
                outcome: DeliveryOutcome::Failed,
                status: None,
                response: message,
            }
        }
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would reach an address other than the one checked.
        .no_proxy()
        .timeout(Duration::from_secs(state.settings.webhooks.timeout_secs))
        .resolve(&host, address)
        .user_agent(concat!("Folio-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build();
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            return Attempt {
                outcome: DeliveryOutcome::Failed,
                status: None,
                response: format!("could not make the HTTP client: {e}"),
            }
        }
    };
    let timestamp = chrono::Utc::now().timestamp();
    let sent = client
        .post(url.clone())
        .header("Content-Type", "application/json")
        .header(
            "Folio-Signature",
            signature_header(secrets, timestamp, body),
        )
        .header("Folio-Event-Id", event_id)
        .header("Folio-Event-Type", event_type)
        .body(body.to_owned())
        .send()
        .await;
    match sent {
        Ok(mut response) => {
            let status = response.status();
            // Only the excerpt is read and kept, however much the endpoint answers.
            let mut head = Vec::new();
            let mut unread = None;
            while head.len() <= super::EXCERPT_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                    Ok(None) => break,
                    Err(e) => {
                        unread = Some(format!("(the answer could not be read: {e})"));
                        break;
                    }
                }
            }
            let text = unread.unwrap_or_else(|| excerpt(&String::from_utf8_lossy(&head)));
            Attempt {
                outcome: if status.is_success() {
                    DeliveryOutcome::Delivered
                } else {
                    DeliveryOutcome::Failed
                },
                status: Some(status.as_u16() as i32),
                response: if status.is_redirection() {
                    format!("(redirects are not followed) {text}")
                } else {
                    text
                },
            }
        }
        Err(e) if e.is_timeout() => Attempt {
            outcome: DeliveryOutcome::Failed,
            status: None,
            response: format!(
                "no answer within {} s",
                state.settings.webhooks.timeout_secs
            ),
        },
        Err(e) => Attempt {
            outcome: DeliveryOutcome::Failed,
            status: None,
            response: format!("could not connect: {e}"),
        },
    }
}

/// The job: one attempt to deliver `event` to `endpoint`.
pub async fn run(
    state: &AppState,
    job: &JobRow,
    endpoint: &WebhookEndpointId,
    event: &str,
) -> Result<(), JobError> {
    let (id, event_id) = (endpoint.clone(), event.to_owned());
    let found = state
        .db
        .run(move |conn| {
            Ok((
                repo::find_endpoint(conn, &id)?,
                repo::find_event(conn, &event_id)?,
            ))
        })
        .await?;
    let (Some(row), Some((event_type, body))) = found else {
        tracing::info!("the endpoint or the event is gone: not sent");
        return Ok(());
    };
    if !row.enabled {
        tracing::info!("the endpoint is disabled: not sent");
        return Ok(());
    }
    let now = super::now(state);
    let started = Instant::now();
    let attempt = match check_url_shape(&row.url, state.settings.webhooks.refuse_private) {
        Ok(url) => {
            send(
                state,
                &url,
                &row.signing_secrets(now),
                event,
                &event_type,
                &body,
            )
            .await
        }
        Err(message) => Attempt {
            outcome: DeliveryOutcome::Refused,
            status: None,
            response: message,
        },
    };
    let log = DeliveryRow {
        id: crate::db::new_id(),
        endpoint_id: row.id.clone(),
        event_id: event.to_owned(),
        attempt: job.attempts,
        outcome: repo::outcome_text(attempt.outcome).to_owned(),
        response_status: attempt.status,
        request_excerpt: excerpt(&body),
        response_excerpt: attempt.response.clone(),
        duration_ms: started.elapsed().as_millis() as i64,
        created_at: now,
    };
    let jobs = state.settings.jobs.clone();
    let outcome = attempt.outcome;
    let disabled = state
        .db
        .write(move |conn| {
            use diesel::Connection;
            Ok(conn.transaction(|conn| {
                repo::insert_delivery(conn, &log)?;
                if outcome == DeliveryOutcome::Delivered {
                    repo::mark_healthy(conn, &log.endpoint_id)?;
                    return diesel::QueryResult::Ok(false);
                }
                let since = repo::mark_failing(conn, &log.endpoint_id, now)?.unwrap_or(now);
                if now - since < super::DISABLE_AFTER {
                    return Ok(false);
                }
                let reason = format!(
                    "Deliveries failed for {} days: fix the endpoint, then enable it again",
                    super::DISABLE_AFTER.num_days()
                );
                let disabled = repo::disable(conn, &log.endpoint_id, &reason, now)?;
                if disabled {
                    crate::jobs::enqueue(
                        conn,
                        &jobs,
                        &crate::jobs::Task::WebhookDisabled {
                            endpoint: log.endpoint_id.clone(),
                        },
                        Some(&format!("webhook-disabled:{}:{}", log.endpoint_id, log.id)),
                    )?;
                }
                Ok(disabled)
            })?)
        })
        .await?;
    if disabled {
        state.wake.now();
        tracing::warn!(endpoint_id = %row.id, "webhook endpoint disabled after failing for days");
    }
    match outcome {
        DeliveryOutcome::Delivered => Ok(()),
        DeliveryOutcome::Refused => Err(JobError::permanent(attempt.response)),
        DeliveryOutcome::Failed if disabled => Err(JobError::permanent(format!(
            "the endpoint was disabled: {}",
            attempt.response
        ))),
        DeliveryOutcome::Failed => Err(JobError::retry_in(
            attempt.response,
            super::retry_delay(job.attempts)
                .to_std()
                .unwrap_or(Duration::from_secs(60)),
        )),
    }
}

/// Tells the admins that an endpoint was disabled.
pub async fn mail_disabled(
    state: &AppState,
    job: &JobRow,
    endpoint: &WebhookEndpointId,
) -> Result<(), JobError> {
    let id = endpoint.clone();
    let (row, admins) = state
        .db
        .run(move |conn| {
            Ok((
                repo::find_endpoint(conn, &id)?,
                crate::auth::repo::admin_emails(conn)?,
            ))
        })
        .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let mut to: Vec<String> = admins;
    for email in &state.settings.admin_emails {
        if !to.iter().any(|e| e == email.as_ref()) {
            to.push(email.as_ref().to_owned());
        }
    }
    let subject = "A webhook endpoint was disabled".to_owned();
    let paragraphs = vec![
        format!(
            "Deliveries to {} have failed for {} days, so Folio has stopped sending to it.",
            row.url,
            super::DISABLE_AFTER.num_days()
        ),
        "Its delivery log shows what the endpoint answered. Once it works, enable it on the webhooks page and redeliver what it missed.".to_owned(),
    ];
    let page = state
        .settings
        .public(&format!("/admin/webhooks/{}", row.id));
    let shop_url = state.settings.public("/");
    let (html, text) = crate::mail::templates::MembershipNotice {
        subject: &subject,
        shop_url: &shop_url,
        paragraphs: &paragraphs,
        action: Some(("Open the endpoint", page.as_str())),
    }
    .render()
    .map_err(JobError::permanent)?;
    for (i, email) in to.into_iter().enumerate() {
        state
            .mailer
            .send(crate::mail::Outgoing {
                to: email,
                subject: subject.clone(),
                text: text.clone(),
                html: html.clone(),
                message_id: state.mailer.message_id(&format!("{}-{i}", job.id)),
                list_unsubscribe: None,
            })
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_told_apart() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_are_refused_for_their_shape_and_literal_addresses() {
        assert!(check_url_shape("https://example.com/hook", true).is_ok());
        assert!(check_url_shape("ftp://example.com/", false).is_err());
        assert!(check_url_shape("https://user:pw@example.com/", false).is_err());
        assert!(check_url_shape("http://127.0.0.1:9/", true).is_err());
        assert!(check_url_shape("http://[::1]:9/", true).is_err());
        assert!(check_url_shape("http://localhost:9/", true).is_err());
        assert!(check_url_shape("http://127.0.0.1:9/", false).is_ok());
    }

    #[test]
    fn the_signature_is_an_hmac_of_the_time_and_body() {
        let header = signature_header(&["whsec_a", "whsec_b"], 1700000000, "{}");
        let parts: Vec<&str> = header.split(',').collect();
        assert_eq!(parts[0], "t=1700000000");
        assert_eq!(parts.len(), 3);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_a").unwrap();
        mac.update(b"1700000000.{}");
        assert_eq!(
            parts[1],
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
        );
    }

    #[test]
    fn the_schedule_backs_off_then_repeats_every_twelve_hours() {
        assert_eq!(super::super::retry_delay(1), chrono::TimeDelta::minutes(1));
        assert_eq!(super::super::retry_delay(5), chrono::TimeDelta::hours(6));
        assert_eq!(super::super::retry_delay(6), chrono::TimeDelta::hours(12));
        assert_eq!(super::super::retry_delay(40), chrono::TimeDelta::hours(12));
        assert_eq!(
            super::super::schedule_text(),
            "1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h until the endpoint has failed for 3 days"
        );
    }
}
