//! The mixed traffic: shoppers who browse, download, check out (paying, failing, expiring,
//! abandoning) and read their library, and the setup they need.

use super::*;

// The driver's side of the story

pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Outcome {
    /// Paid by card on the hosted page.
    Paid,
    /// "Pay later", settling as paid.
    PaidLater,
    /// "Pay later", settling as failed.
    FailedLater,
    /// Expired through the API.
    Expired,
    /// The Cancel button: the session stays open, the order pending.
    Cancelled,
    /// The card was declined: the session stays open, the order pending.
    Declined,
    /// The emulator call failed: no expectation.
    Unknown,
}

impl Outcome {
    pub(super) fn expected_status(self) -> Option<&'static str> {
        match self {
            Outcome::Paid | Outcome::PaidLater => Some("paid"),
            Outcome::FailedLater => Some("failed"),
            Outcome::Expired => Some("expired"),
            Outcome::Cancelled | Outcome::Declined => Some("pending"),
            Outcome::Unknown => None,
        }
    }

    /// Events the emulator raises for it.
    pub(super) fn events(self) -> usize {
        match self {
            Outcome::Paid | Outcome::Expired => 1,
            Outcome::PaidLater | Outcome::FailedLater => 2,
            Outcome::Cancelled | Outcome::Declined | Outcome::Unknown => 0,
        }
    }

    pub(super) fn grants(self) -> bool {
        matches!(self, Outcome::Paid | Outcome::PaidLater)
    }
}

pub(super) struct Checkout {
    pub(super) user: String,
    pub(super) slug: String,
    pub(super) order_id: String,
    pub(super) outcome: Outcome,
}

pub(super) struct User {
    pub(super) email: String,
    pub(super) access: String,
    pub(super) refresh: String,
    /// Products this user paid for (granted now or soon).
    pub(super) paid: HashSet<String>,
    /// Products whose checkout ended in an unknown state.
    pub(super) unknown: HashSet<String>,
    /// Products the library listed (so downloading them must work).
    pub(super) owned: Vec<String>,
}

impl User {
    pub(super) fn take_tokens(&mut self, v: &Value) {
        if let (Some(a), Some(r)) = (v["access_token"].as_str(), v["refresh_token"].as_str()) {
            self.access = a.to_owned();
            self.refresh = r.to_owned();
        }
    }
}

pub(super) struct Shared {
    pub(super) base: String,
    pub(super) emulator: String,
    pub(super) free: Vec<String>,
    pub(super) paid: Vec<String>,
    pub(super) all: Vec<String>,
    pub(super) stop: AtomicBool,
}

pub(super) struct WorkerResult {
    pub(super) stats: Stats,
    pub(super) users: Vec<User>,
    pub(super) checkouts: Vec<Checkout>,
}

pub(super) fn worker(id: usize, shared: Arc<Shared>, mut users: Vec<User>) -> WorkerResult {
    let mut c = Client::new(&shared.base, &shared.emulator);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut checkouts = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let u = rng.below(users.len());
        let user = &mut users[u];
        match rng.below(100) {
            0..=19 => browse(&mut c, &mut rng, &shared, None),
            20..=31 => browse(&mut c, &mut rng, &shared, Some(&*user)),
            32..=39 => {
                let slug = rng.pick(&shared.all).cloned().unwrap_or_default();
                let token = (rng.below(2) == 0).then_some(user.access.as_str());
                c.call(
                    "product",
                    c.get(&format!("/api/v1/products/{slug}"), token),
                    Body::None,
                    &[200],
                );
            }
            40..=49 => {
                let slug = rng.pick(&shared.free).cloned().unwrap_or_default();
                download(&mut c, user, &slug);
            }
            50..=55 => match rng.pick(&user.owned).cloned() {
                Some(slug) => download(&mut c, user, &slug),
                None => library(&mut c, user),
            },
            56..=63 => library(&mut c, user),
            64..=69 => {
                let req = c.get("/api/v1/orders?limit=20", Some(&user.access));
                c.call("orders", req, Body::None, &[200]);
            }
            70..=96 => {
                if let Some(done) = checkout(&mut c, &mut rng, &shared, user) {
                    checkouts.push(done);
                }
            }
            97..=98 => {
                let body = json!({ "refresh_token": user.refresh });
                let req = c.post("/api/v1/auth/refresh", None);
                if let Some(v) = c.json("refresh", req, Body::Json(body), &[200]) {
                    user.take_tokens(&v);
                }
            }
            _ => {
                let body = json!({ "email": user.email, "password": PASSWORD });
                let req = c.post("/api/v1/auth/login", None);
                if let Some(v) = c.json("login", req, Body::Json(body), &[200]) {
                    user.take_tokens(&v);
                }
            }
        }
    }
    WorkerResult {
        stats: c.stats,
        users,
        checkouts,
    }
}

/// A catalog page, then up to three more through `next_cursor`, then one product of the last.
pub(super) fn browse(c: &mut Client, rng: &mut Rng, shared: &Shared, user: Option<&User>) {
    let token = user.as_ref().map(|u| u.access.clone());
    let pages = 1 + rng.below(4);
    let mut cursor: Option<String> = None;
    let mut slugs = Vec::new();
    for _ in 0..pages {
        let mut req = c
            .get("/api/v1/products", token.as_deref())
            .query("limit", "20");
        if let Some(cur) = &cursor {
            req = req.query("cursor", cur);
        }
        let Some(page) = c.json("catalog", req, Body::None, &[200]) else {
            return;
        };
        slugs.clear();
        for item in page["items"].as_array().into_iter().flatten() {
            let slug = item["slug"].as_str().unwrap_or_default().to_owned();
            if let Some(u) = &user {
                // A free item is the user's once they took a link for it.
                if item["owned"] == true
                    && item["is_free"] != true
                    && !u.paid.contains(&slug)
                    && !u.unknown.contains(&slug)
                {
                    c.stats.violation(format!(
                        "catalog says {} owns {slug}, which they did not pay for",
                        u.email
                    ));
                }
            }
            slugs.push(slug);
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let slug = rng
        .pick(&slugs)
        .or_else(|| rng.pick(&shared.all))
        .cloned()
        .unwrap_or_default();
    c.call(
        "product",
        c.get(&format!("/api/v1/products/{slug}"), token.as_deref()),
        Body::None,
        &[200],
    );
}

/// A download link, then the file through it.
pub(super) fn download(c: &mut Client, user: &User, slug: &str) {
    let req = c.post(
        &format!("/api/v1/products/{slug}/download-token"),
        Some(&user.access),
    );
    let Some(link) = c.json("download-token", req, Body::None, &[200]) else {
        return;
    };
    let Some(url) = link["url"].as_str() else {
        c.stats
            .violation(format!("download-token for {slug}: no url"));
        return;
    };
    let req = c.agent.get(url);
    if let Some(bytes) = c.call("download", req, Body::None, &[200]) {
        c.stats.downloaded_bytes += bytes.len() as u64;
        if bytes.len() != FILE_BYTES || !bytes.starts_with(b"%PDF-") {
            c.stats.violation(format!(
                "download of {slug}: {} bytes, expected {FILE_BYTES}",
                bytes.len()
            ));
        }
    }
}

pub(super) fn library(c: &mut Client, user: &mut User) {
    let req = c.get("/api/v1/library", Some(&user.access));
    let Some(items) = c.json("library", req, Body::None, &[200]) else {
        return;
    };
    user.owned.clear();
    for item in items.as_array().into_iter().flatten() {
        let slug = item["slug"].as_str().unwrap_or_default().to_owned();
        // Free items taken (a download link asked for) are in the library too.
        if item["is_free"] != true && !user.paid.contains(&slug) && !user.unknown.contains(&slug) {
            c.stats.violation(format!(
                "library of {} has {slug}, which they did not pay for",
                user.email
            ));
        }
        user.owned.push(slug);
    }
}

/// Starts a checkout for a paid product the user has not paid for, and ends it on the hosted
/// page (or expires it through the API).
pub(super) fn checkout(
    c: &mut Client,
    rng: &mut Rng,
    shared: &Shared,
    user: &mut User,
) -> Option<Checkout> {
    let start = rng.below(shared.paid.len());
    let slug = (0..shared.paid.len())
        .map(|i| &shared.paid[(start + i) % shared.paid.len()])
        .find(|s| !user.paid.contains(*s) && !user.unknown.contains(*s))?
        .clone();
    let req = c.post("/api/v1/checkout", Some(&user.access));
    let started = c.json("checkout", req, Body::Json(json!({ "slug": slug })), &[201])?;
    let (Some(session), Some(order_id)) = (
        started["session_id"].as_str().map(str::to_owned),
        started["order_id"].as_str().map(str::to_owned),
    ) else {
        c.stats.violation(format!("checkout of {slug}: {started}"));
        return None;
    };
    let roll = rng.below(100);
    let (outcome, done) = match roll {
        0..=44 => {
            let req = c.emulator_post(&format!("/pay/{session}/pay"));
            (Outcome::Paid, c.call("page: pay", req, Body::None, &[303]))
        }
        45..=54 => {
            let req = c.emulator_post(&format!("/pay/{session}/pay-async"));
            let r = c.call("page: pay later", req, Body::Form(""), &[303]);
            (Outcome::PaidLater, r)
        }
        55..=59 => {
            let req = c.emulator_post(&format!("/pay/{session}/pay-async"));
            let r = c.call("page: pay later", req, Body::Form("outcome=fail"), &[303]);
            (Outcome::FailedLater, r)
        }
        60..=74 => {
            let req = c
                .emulator_post(&format!("/v1/checkout/sessions/{session}/expire"))
                .set("Authorization", "Bearer sk_test_x");
            (
                Outcome::Expired,
                c.call("stripe: expire", req, Body::None, &[200]),
            )
        }
        75..=89 => {
            let req = c.emulator_post(&format!("/pay/{session}/cancel"));
            (
                Outcome::Cancelled,
                c.call("page: cancel", req, Body::None, &[303]),
            )
        }
        _ => {
            let req = c.emulator_post(&format!("/pay/{session}/decline"));
            (
                Outcome::Declined,
                c.call("page: decline", req, Body::None, &[402]),
            )
        }
    };
    let outcome = if done.is_some() {
        outcome
    } else {
        Outcome::Unknown
    };
    match outcome {
        o if o.grants() => {
            user.paid.insert(slug.clone());
        }
        Outcome::Unknown => {
            user.unknown.insert(slug.clone());
        }
        _ => {}
    }
    // Half the card payments come back through the success page, racing the webhook: it must
    // say paid at once.
    if outcome == Outcome::Paid && rng.below(2) == 0 {
        let req = c.get(
            &format!("/api/v1/checkout/sessions/{session}"),
            Some(&user.access),
        );
        if let Some(order) = c.json("success page", req, Body::None, &[200]) {
            if order["status"] != "paid" {
                c.stats.violation(format!(
                    "success page of a paid session {session}: status {}",
                    order["status"]
                ));
            }
        }
    }
    Some(Checkout {
        user: user.email.clone(),
        slug,
        order_id,
        outcome,
    })
}

// ---------------------------------------------------------------------------------------------
// Set-up, the reordering controller, RSS

pub(super) fn register(c: &mut Client, email: &str) -> Result<User> {
    let req = c.post("/api/v1/auth/register", None);
    let body = json!({ "email": email, "password": PASSWORD });
    let v = c
        .json("register", req, Body::Json(body), &[201])
        .with_context(|| format!("registering {email}: {:?}", c.stats.problems.last()))?;
    let mut user = User {
        email: email.to_owned(),
        access: String::new(),
        refresh: String::new(),
        paid: HashSet::new(),
        unknown: HashSet::new(),
        owned: Vec::new(),
    };
    user.take_tokens(&v);
    Ok(user)
}

/// Registers `count` users from a few threads (argon2 is the cost).
pub(super) fn register_users(base: &str, emulator: &str, count: usize) -> Result<Vec<User>> {
    let threads = 8.min(count);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (base, emulator) = (base.to_owned(), emulator.to_owned());
            std::thread::spawn(move || -> Result<Vec<(usize, User)>> {
                let mut c = Client::new(&base, &emulator);
                (t..count)
                    .step_by(threads)
                    .map(|i| Ok((i, register(&mut c, &format!("soak-{i}@example.com"))?)))
                    .collect()
            })
        })
        .collect();
    let mut users = Vec::with_capacity(count);
    for h in handles {
        users.extend(
            h.join()
                .map_err(|_| anyhow::anyhow!("a thread panicked"))??,
        );
    }
    users.sort_by_key(|(i, _)| *i);
    Ok(users.into_iter().map(|(_, u)| u).collect())
}

/// Every slug in the catalog, through the cursors, split into free and paid.
pub(super) fn catalog(c: &mut Client) -> Result<(Vec<String>, Vec<String>)> {
    let (mut free, mut paid) = (Vec::new(), Vec::new());
    let mut cursor: Option<String> = None;
    loop {
        let mut req = c.get("/api/v1/products", None).query("limit", "100");
        if let Some(cur) = &cursor {
            req = req.query("cursor", cur);
        }
        let page = c
            .json("catalog", req, Body::None, &[200])
            .context("listing the catalog")?;
        for item in page["items"].as_array().into_iter().flatten() {
            let slug = item["slug"].as_str().unwrap_or_default().to_owned();
            if item["is_free"] == true {
                free.push(slug);
            } else {
                paid.push(slug);
            }
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            return Ok((free, paid));
        }
    }
}

pub(super) fn knobs(c: &mut Client, knobs: Value) -> Result<()> {
    let req = c.emulator_post("/_emulator/knobs");
    c.call("emulator control", req, Body::Json(knobs), &[200])
        .map(drop)
        .with_context(|| format!("setting knobs: {:?}", c.stats.problems.last()))
}

/// Every `period`, holds events back for `hold`, then releases them in reverse order. Returns
/// how many windows it ran; on stop, releases what is held.
pub(super) fn reorder(
    shared: Arc<Shared>,
    period: Duration,
    hold: Duration,
) -> Result<(usize, Stats)> {
    let mut c = Client::new(&shared.base, &shared.emulator);
    let mut windows = 0;
    let sleep = |d: Duration| {
        let end = Instant::now() + d;
        while Instant::now() < end && !shared.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    while !shared.stop.load(Ordering::Relaxed) {
        sleep(period);
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        knobs(&mut c, json!({ "hold": true }))?;
        sleep(hold);
        knobs(&mut c, json!({ "hold": false }))?;
        let req = c
            .emulator_post("/_emulator/release")
            .query("reverse", "true");
        c.call("emulator control", req, Body::None, &[204])
            .context("release")?;
        windows += 1;
    }
    // Whatever raced the last "hold: false" is sent now.
    let req = c
        .emulator_post("/_emulator/release")
        .query("reverse", "true");
    c.call("emulator control", req, Body::None, &[204])
        .context("release")?;
    Ok((windows, c.stats))
}
