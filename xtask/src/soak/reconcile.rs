//! After the run: every webhook delivered, and orders, entitlements and Stripe's sessions agree.

use super::*;

// The end: idle, reconcile

pub(super) struct Webhooks {
    pub(super) deliveries: usize,
    pub(super) events_delivered: usize,
    pub(super) statuses: BTreeMap<String, u64>,
    /// How long each attempt that reached folio took, as the emulator timed it, in µs (sorted).
    pub(super) micros: Vec<u32>,
    /// When (unix seconds) each attempt that took over a second or got no answer was sent.
    pub(super) slow_at: Vec<i64>,
    pub(super) first_sent: Option<i64>,
    pub(super) idle: bool,
}

/// Waits until every event the driver caused was accepted and no delivery happened for 2 s.
/// Reads the emulator's delivery log incrementally (`?since=`): it holds every attempt of the run.
pub(super) fn wait_deliveries(c: &mut Client, expected_events: usize) -> Webhooks {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen = 0;
    let mut statuses = BTreeMap::new();
    let mut micros = Vec::new();
    let (mut slow_at, mut first_sent) = (Vec::new(), None);
    let mut ok = HashSet::new();
    let mut stable = 0;
    loop {
        let req = c
            .emulator_agent
            .get(&format!("{}/_emulator/deliveries", c.emulator))
            .query("since", &seen.to_string());
        let list = c
            .json("emulator control", req, Body::None, &[200])
            .unwrap_or(Value::Null);
        let list = list.as_array().cloned().unwrap_or_default();
        for d in &list {
            let key = match d["status"].as_u64() {
                Some(s) => s.to_string(),
                None => format!("error: {}", d["error"].as_str().unwrap_or("?")),
            };
            *statuses.entry(key).or_default() += 1;
            if let Some(t) = d["signed_at"].as_i64().filter(|t| *t > 0) {
                let ms = d["millis"].as_u64().unwrap_or_default();
                micros.push(u32::try_from(ms * 1000).unwrap_or(u32::MAX));
                first_sent = Some(first_sent.unwrap_or(t).min(t));
                if ms >= 1000 || d["status"].is_null() {
                    slow_at.push(t);
                }
            }
            if d["status"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s))
            {
                ok.insert(d["event_id"].as_str().unwrap_or_default().to_owned());
            }
        }
        seen += list.len();
        stable = if list.is_empty() { stable + 1 } else { 0 };
        let idle = ok.len() >= expected_events && stable >= 2;
        if idle || Instant::now() > deadline {
            micros.sort_unstable();
            return Webhooks {
                deliveries: seen,
                events_delivered: ok.len(),
                statuses,
                micros,
                slow_at,
                first_sent,
                idle,
            };
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

pub(super) struct Reconcile {
    pub(super) checkouts: usize,
    pub(super) by_outcome: BTreeMap<Outcome, usize>,
    pub(super) orders_in_folio: usize,
    pub(super) folio_by_status: BTreeMap<String, usize>,
    pub(super) paid_orders: usize,
    pub(super) entitlements: usize,
    pub(super) paid_pairs: usize,
    pub(super) mismatches: Vec<String>,
    pub(super) mismatch_count: usize,
}

impl Reconcile {
    pub(super) fn mismatch(&mut self, text: String) {
        self.mismatch_count += 1;
        if self.mismatches.len() < 20 {
            self.mismatches.push(text);
        }
    }
}

pub(super) fn reconcile(
    c: &mut Client,
    users: &[User],
    checkouts: &[Checkout],
) -> Result<Reconcile> {
    let admin = c
        .json(
            "reconcile",
            c.post("/api/v1/auth/login", None),
            Body::Json(json!({ "email": ADMIN_EMAIL, "password": PASSWORD })),
            &[200],
        )
        .context("admin sign-in")?;
    let admin = admin["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut orders: HashMap<String, (String, String, String)> = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = c
            .get("/api/v1/admin/orders", Some(&admin))
            .query("limit", "100");
        if let Some(cur) = &cursor {
            req = req.query("cursor", cur);
        }
        let page = c
            .json("reconcile", req, Body::None, &[200])
            .context("listing orders")?;
        for o in page["items"].as_array().into_iter().flatten() {
            let field = |k: &str| o[k].as_str().unwrap_or_default().to_owned();
            orders.insert(
                field("id"),
                (
                    field("status"),
                    o["buyer_email"].as_str().unwrap_or_default().to_owned(),
                    o["product"]["slug"].as_str().unwrap_or_default().to_owned(),
                ),
            );
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let mut r = Reconcile {
        checkouts: checkouts.len(),
        by_outcome: BTreeMap::new(),
        orders_in_folio: orders.len(),
        folio_by_status: BTreeMap::new(),
        paid_orders: 0,
        entitlements: 0,
        paid_pairs: 0,
        mismatches: Vec::new(),
        mismatch_count: 0,
    };
    for (status, _, _) in orders.values() {
        *r.folio_by_status.entry(status.clone()).or_default() += 1;
    }
    r.paid_orders = r.folio_by_status.get("paid").copied().unwrap_or(0);
    let mut known = HashSet::new();
    let mut expected_paid = 0;
    let mut pairs: HashMap<&str, HashSet<&str>> = HashMap::new();
    for ch in checkouts {
        *r.by_outcome.entry(ch.outcome).or_default() += 1;
        known.insert(ch.order_id.as_str());
        if ch.outcome.grants() {
            expected_paid += 1;
            pairs.entry(&ch.user).or_default().insert(&ch.slug);
        }
        let Some((status, email, slug)) = orders.get(&ch.order_id) else {
            r.mismatch(format!(
                "order {} ({:?}) is not in folio",
                ch.order_id, ch.outcome
            ));
            continue;
        };
        if *email != ch.user || *slug != ch.slug {
            r.mismatch(format!(
                "order {} is {email}/{slug} in folio, {}/{} for the driver",
                ch.order_id, ch.user, ch.slug
            ));
        }
        if let Some(want) = ch.outcome.expected_status() {
            if status != want {
                r.mismatch(format!(
                    "order {} ({:?}) is {status} in folio, expected {want}",
                    ch.order_id, ch.outcome
                ));
            }
        }
    }
    for id in orders.keys().filter(|id| !known.contains(id.as_str())) {
        r.mismatch(format!("order {id} in folio was not made by the driver"));
    }
    if r.paid_orders != expected_paid {
        r.mismatch(format!(
            "{} paid orders in folio, the driver paid {expected_paid} sessions",
            r.paid_orders
        ));
    }
    r.paid_pairs = pairs.values().map(HashSet::len).sum();
    for user in users {
        let req = c.get("/api/v1/library", Some(&user.access));
        let items = c
            .json("reconcile", req, Body::None, &[200])
            .with_context(|| format!("library of {}", user.email))?;
        // Paid items only: free ones taken are in the library too, and no order stands for them.
        let owned: HashSet<&str> = items
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["is_free"] != true)
            .filter_map(|p| p["slug"].as_str())
            .collect();
        r.entitlements += owned.len();
        let paid = pairs.get(user.email.as_str()).cloned().unwrap_or_default();
        for slug in owned.difference(&paid) {
            if !user.unknown.contains(*slug) {
                r.mismatch(format!("{} owns {slug} without a paid session", user.email));
            }
        }
        for slug in paid.difference(&owned) {
            r.mismatch(format!(
                "{} paid for {slug} but does not own it",
                user.email
            ));
        }
    }
    if r.entitlements != r.paid_pairs {
        r.mismatch(format!(
            "{} entitlements, {} distinct (user, product) pairs paid",
            r.entitlements, r.paid_pairs
        ));
    }
    Ok(r)
}
