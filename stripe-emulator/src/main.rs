//! `stripe-emulator`: runs the emulator as a server for development.
//!
//! Environment:
//! - `STRIPE_EMULATOR_BIND` (default `127.0.0.1:12111`): address to listen on;
//! - `STRIPE_EMULATOR_WEBHOOK_URL`: where to POST signed events (can also be set later with
//!   `POST /_emulator/webhook_url`);
//! - `STRIPE_WEBHOOK_SECRET` (default `whsec_emulator`): the signing secret;
//! - `RUST_LOG` (default `info`).

use std::net::TcpListener;

use stripe_emulator::{Config, Emulator};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let bind = env("STRIPE_EMULATOR_BIND").unwrap_or_else(|| "127.0.0.1:12111".to_string());
    let webhook_url = env("STRIPE_EMULATOR_WEBHOOK_URL");
    let secret = env("STRIPE_WEBHOOK_SECRET").unwrap_or_else(|| "whsec_emulator".to_string());
    let listener = TcpListener::bind(&bind)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {bind}: {e}")))?;
    let emulator = Emulator::new(Config {
        webhook_url: webhook_url.clone(),
        webhook_secret: secret,
    });
    let server = emulator.server(listener)?;
    let base = emulator.base_url();
    println!("Stripe emulator on {base}/ (point the Stripe client's base URL here; any sk_test_ key works)");
    match webhook_url {
        Some(url) => println!("Webhooks go to {url}"),
        None => println!(
            "No webhook URL yet: events are kept until POST {base}/_emulator/webhook_url url=..."
        ),
    }
    server.await
}

/// A non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
