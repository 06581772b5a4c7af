//! The HTTP client each worker drives: one keep-alive connection, timed requests.

use super::*;

// HTTP

pub(super) enum Body<'a> {
    None,
    Json(Value),
    Form(&'a str),
}

pub(super) struct Client {
    pub(super) agent: ureq::Agent,
    /// For the emulator, whose calls come seconds apart: a fresh connection each time. A pooled
    /// one would sometimes be reused just as the server closes it for idleness (actix's 5 s
    /// keep-alive), and a POST is not retried: "Unexpected EOF" without any fault on either side.
    pub(super) emulator_agent: ureq::Agent,
    pub(super) base: String,
    pub(super) emulator: String,
    pub(super) stats: Stats,
}

impl Client {
    pub(super) fn new(base: &str, emulator: &str) -> Self {
        Self {
            // No redirects: the hosted page answers 303 to the success URL, which is the web UI.
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .redirects(0)
                .build(),
            emulator_agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .redirects(0)
                .max_idle_connections(0)
                .build(),
            base: base.to_owned(),
            emulator: emulator.to_owned(),
            stats: Stats::default(),
        }
    }

    /// One request; its status, latency and any problem are counted under `kind`. The body when
    /// the status is one of `expect`.
    pub(super) fn call(
        &mut self,
        kind: &'static str,
        req: ureq::Request,
        body: Body<'_>,
        expect: &[u16],
    ) -> Option<Vec<u8>> {
        let what = format!("{kind}: {} {}", req.method(), req.url());
        let start = Instant::now();
        let result = match body {
            Body::None => req.call(),
            Body::Json(v) => req.send_json(v),
            Body::Form(f) => req
                .set("Content-Type", "application/x-www-form-urlencoded")
                .send_string(f),
        };
        let response = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => {
                self.stats.kinds.entry(kind).or_default().errors += 1;
                self.stats.problem(format!("{what}: {e}"));
                return None;
            }
        };
        let status = response.status();
        let mut bytes = Vec::new();
        if let Err(e) = response.into_reader().read_to_end(&mut bytes) {
            self.stats.kinds.entry(kind).or_default().errors += 1;
            self.stats
                .problem(format!("{what}: {status}, body unreadable: {e}"));
            return None;
        }
        let k = self.stats.kinds.entry(kind).or_default();
        k.latencies_us
            .push(start.elapsed().as_micros().min(u32::MAX as u128) as u32);
        *k.statuses.entry(status).or_default() += 1;
        if expect.contains(&status) {
            return Some(bytes);
        }
        k.unexpected += 1;
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
        self.stats.problem(format!("{what}: {status} {text}"));
        None
    }

    pub(super) fn json(
        &mut self,
        kind: &'static str,
        req: ureq::Request,
        body: Body<'_>,
        expect: &[u16],
    ) -> Option<Value> {
        let bytes = self.call(kind, req, body, expect)?;
        match serde_json::from_slice(&bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                self.stats.violation(format!("{kind}: not JSON: {e}"));
                None
            }
        }
    }

    pub(super) fn get(&self, path: &str, token: Option<&str>) -> ureq::Request {
        self.with_token(self.agent.get(&format!("{}{path}", self.base)), token)
    }

    pub(super) fn post(&self, path: &str, token: Option<&str>) -> ureq::Request {
        self.with_token(self.agent.post(&format!("{}{path}", self.base)), token)
    }

    pub(super) fn with_token(&self, req: ureq::Request, token: Option<&str>) -> ureq::Request {
        match token {
            Some(t) => req.set("Authorization", &format!("Bearer {t}")),
            None => req,
        }
    }

    pub(super) fn emulator_post(&self, path: &str) -> ureq::Request {
        self.emulator_agent
            .post(&format!("{}{path}", self.emulator))
    }
}
