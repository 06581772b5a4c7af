//! A short-lived cache of public catalog pages.
//!
//! The catalog list is the most requested page and the same for every anonymous caller. Its cost
//! was the database round trip, allocating and serializing 50 products, and parsing their
//! timestamps (see bench/RESULTS.md). A page is kept, already serialized, for at most [`TTL`]:
//!
//! - every product write on this node ([`CatalogCache::invalidate`]) drops all pages at once,
//!   and a page read from the database before a write can never be stored after it (the
//!   generation it was read under no longer matches);
//! - on PostgreSQL every write by any node (or by `folio seed`) drops what it changed on every node
//!   when it commits ([`super::notify`]); while a node's listener is not connected its cache is
//!   bypassed;
//! - on SQLite (one node) writes made by `folio seed` beside a running server show within [`TTL`],
//!   or within twice that while one caller reads the value again: when a value expires, the first
//!   caller to find it so reloads it and the others keep getting the old one meanwhile, rather
//!   than every concurrent caller querying the database at once (with 64 connections on one
//!   product, PostgreSQL's p99 was 270-350 ms from these bursts).
//!
//! Signed-in callers get the same items with their own `owned` flags, from the set of products
//! they own, kept the same way: dropped on every entitlement change on this node, at most
//! [`TTL`] (or twice that) old otherwise.
//!
//! Products looked up by slug (the product page, download links) are kept the same way as pages.
//! Whatever spends money or sends a file reads the database itself: checkout, and the download,
//! which checks the entitlement again.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use shared_types::{Product, ProductId, UserId};

use super::Listed;

/// How stale a page may be when another process changed the catalog unannounced (SQLite, with
/// `folio seed` beside the server).
pub const TTL: Duration = Duration::from_secs(1);
/// How long a value is kept while every write is announced (PostgreSQL, the listener
/// connected): a safety net, not the way changes are seen.
pub const NOTIFIED_TTL: Duration = Duration::from_secs(60);
/// Distinct pages kept (limit × cursor × search); past it the cache starts again empty.
const MAX_PAGES: usize = 1024;
/// Signed-in callers whose owned products are kept.
const MAX_OWNERS: usize = 16_384;
/// Products kept by slug.
const MAX_PRODUCTS: usize = 16_384;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub limit: i64,
    pub cursor: Option<String>,
    pub search: Option<String>,
}

/// One page, as every anonymous caller sees it.
pub struct Page {
    pub items: Vec<Product>,
    /// Each item serialized with `owned: false`.
    fragments: Vec<Bytes>,
    next_cursor: Option<String>,
    /// The whole response body for anonymous callers.
    pub body: Bytes,
}

impl Page {
    pub fn new(items: Vec<Product>, next_cursor: Option<String>) -> Self {
        let fragments: Vec<Bytes> = items
            .iter()
            .map(|p| Bytes::from(serde_json::to_vec(p).expect("a product serializes")))
            .collect();
        let body = assemble(&fragments, &next_cursor);
        Self {
            items,
            fragments,
            next_cursor,
            body,
        }
    }

    /// The body for a caller who owns `owned` (product ids): only those items are serialized
    /// again.
    pub fn body_for(&self, holdings: &Holdings) -> Bytes {
        let held = |item: &Product| holdings.holds(&item.id, item.status);
        // Most callers own nothing on most pages.
        if !self.items.iter().any(|item| held(item) != (false, false)) {
            return self.body.clone();
        }
        let fragments: Vec<Bytes> = self
            .items
            .iter()
            .zip(&self.fragments)
            .map(|(item, fragment)| {
                let (owned, included) = held(item);
                if owned || included {
                    let mut mine = item.clone();
                    mine.owned = owned;
                    mine.included = included;
                    Bytes::from(serde_json::to_vec(&mine).expect("a product serializes"))
                } else {
                    fragment.clone()
                }
            })
            .collect();
        assemble(&fragments, &self.next_cursor)
    }
}

/// What a signed-in caller holds: the products they own, and what their memberships unlock.
#[derive(Debug, Clone, Default)]
pub struct Holdings {
    pub owned: HashSet<ProductId>,
    pub unlocked: crate::membership::repo::Unlocked,
}

impl Holdings {
    /// Whether the caller owns `product`, and whether a membership (only) unlocks it.
    pub fn holds(&self, product: &ProductId, status: shared_types::ProductStatus) -> (bool, bool) {
        let owned = self.owned.contains(product);
        (owned, !owned && self.unlocked.includes(product, status))
    }
}

/// `{"items":[...],"next_cursor":...}`, the shape of `ProductPage`.
fn assemble(fragments: &[Bytes], next_cursor: &Option<String>) -> Bytes {
    let cursor = serde_json::to_string(next_cursor).expect("a cursor serializes");
    let len = fragments.iter().map(|f| f.len() + 1).sum::<usize>() + cursor.len() + 32;
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(b"{\"items\":[");
    for (i, f) in fragments.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(f);
    }
    body.extend_from_slice(b"],\"next_cursor\":");
    body.extend_from_slice(cursor.as_bytes());
    body.push(b'}');
    Bytes::from(body)
}

/// Values kept for at most [`TTL`] and dropped together by `invalidate`; a value read before an
/// invalidation is never stored after it.
struct Generational<K, V> {
    generation: AtomicU64,
    entries: Mutex<HashMap<K, Entry<V>>>,
    max: usize,
}

struct Entry<V> {
    generation: u64,
    stored: Instant,
    value: Arc<V>,
    /// A caller is reading the value again since it expired.
    reloading: bool,
}

impl<K: std::hash::Hash + Eq, V> Generational<K, V> {
    fn new(max: usize) -> Self {
        Self {
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
            max,
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The value, if fresh; the expired value while another caller reloads it (up to twice
    /// [`TTL`] old); None when the caller should load it and `store` it.
    fn get<Q>(&self, key: &Q, ttl: Duration) -> Option<Arc<V>>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let generation = self.generation();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries
            .get_mut(key)
            .filter(|e| e.generation == generation)?;
        let age = entry.stored.elapsed();
        if age < ttl || (entry.reloading && age < 2 * ttl) {
            return Some(entry.value.clone());
        }
        // This caller reloads; if it fails, the next caller after 2 × TTL tries again.
        entry.reloading = true;
        None
    }

    fn store(&self, key: K, generation: u64, value: Arc<V>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation() != generation {
            return;
        }
        if entries.len() >= self.max {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                generation,
                stored: Instant::now(),
                value,
                reloading: false,
            },
        );
    }

    fn invalidate(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

/// Catalog pages, products by slug, and which products each recent signed-in caller owns.
pub struct CatalogCache {
    pages: Generational<PageKey, Page>,
    products: Generational<String, Listed>,
    owners: Generational<UserId, Holdings>,
    /// False while writes of other nodes could go unnoticed (PostgreSQL, listener not
    /// connected): nothing is served from the cache then.
    live: AtomicBool,
    /// [`TTL`], or [`NOTIFIED_TTL`] once every write is announced; in milliseconds.
    ttl_ms: AtomicU64,
    /// PostgreSQL: the catalog version last read from the database (-1: none yet).
    version: std::sync::atomic::AtomicI64,
}

impl Default for CatalogCache {
    fn default() -> Self {
        Self {
            pages: Generational::new(MAX_PAGES),
            products: Generational::new(MAX_PRODUCTS),
            owners: Generational::new(MAX_OWNERS),
            live: AtomicBool::new(true),
            ttl_ms: AtomicU64::new(TTL.as_millis() as u64),
            version: std::sync::atomic::AtomicI64::new(-1),
        }
    }
}

impl CatalogCache {
    /// Whether values may be served (see `live`).
    pub fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::SeqCst);
    }

    fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    /// Every write by any process is announced from now on: values may be kept longer.
    pub fn announced(&self) {
        self.ttl_ms
            .store(NOTIFIED_TTL.as_millis() as u64, Ordering::SeqCst);
    }

    /// The catalog's version as a reader just read it from the database: pages and products are
    /// dropped when it is not the one seen last. A swap, not a maximum: a reader holding an older
    /// version sets it back, and the next reader drops again (wasted, never stale).
    pub fn observe_version(&self, version: i64) {
        if self.version.swap(version, Ordering::SeqCst) != version {
            self.invalidate();
        }
    }

    fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms.load(Ordering::SeqCst))
    }

    /// The generation to read a page under; pass it back to [`CatalogCache::store`].
    pub fn generation(&self) -> u64 {
        self.pages.generation()
    }

    pub fn get(&self, key: &PageKey) -> Option<Arc<Page>> {
        self.pages.get(key, self.ttl()).filter(|_| self.is_live())
    }

    /// Keeps `page` unless the catalog changed since `generation` was read.
    pub fn store(&self, key: PageKey, generation: u64, page: Arc<Page>) {
        self.pages.store(key, generation, page)
    }

    /// Called after every product write.
    pub fn invalidate(&self) {
        self.pages.invalidate();
        self.products.invalidate();
    }

    /// The generation to read a product under; pass it back to [`CatalogCache::store_product`].
    pub fn products_generation(&self) -> u64 {
        self.products.generation()
    }

    pub fn product(&self, slug: &str) -> Option<Arc<Listed>> {
        self.products
            .get(slug, self.ttl())
            .filter(|_| self.is_live())
    }

    /// Keeps `listed` unless a product was written since `generation` was read.
    pub fn store_product(&self, generation: u64, listed: Arc<Listed>) {
        self.products
            .store(listed.row.slug.clone(), generation, listed)
    }

    pub fn owners_generation(&self) -> u64 {
        self.owners.generation()
    }

    /// The products `user_id` owns, when read within [`TTL`] and since the last grant or revoke.
    pub fn owned(&self, user_id: &UserId) -> Option<Arc<Holdings>> {
        self.owners
            .get(user_id, self.ttl())
            .filter(|_| self.is_live())
    }

    pub fn store_owned(&self, user_id: UserId, generation: u64, owned: Arc<Holdings>) {
        self.owners.store(user_id, generation, owned)
    }

    /// Called after every change to entitlements (payments, refunds, disputes) and memberships
    /// (their state, and plans). A membership's grace also ends with no write: it shows within
    /// the cache's TTL (the download itself asks the database).
    pub fn invalidate_owners(&self) {
        self.owners.invalidate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PageKey {
        PageKey {
            limit: 20,
            cursor: None,
            search: None,
        }
    }

    fn page() -> Arc<Page> {
        Arc::new(Page::new(Vec::new(), None))
    }

    #[test]
    fn a_page_read_before_a_write_is_not_kept_after_it() {
        let cache = CatalogCache::default();
        let before = cache.generation();
        cache.invalidate();
        cache.store(key(), before, page());
        assert!(cache.get(&key()).is_none());
        let now = cache.generation();
        cache.store(key(), now, page());
        assert!(cache.get(&key()).is_some());
        cache.invalidate();
        assert!(cache.get(&key()).is_none());
    }

    #[test]
    fn an_expired_value_is_reloaded_by_one_caller_while_the_others_keep_it() {
        let cache = CatalogCache::default();
        let generation = cache.generation();
        cache.store(key(), generation, page());
        let past = |by: Duration| Instant::now().checked_sub(by).expect("uptime over 3 s");
        let aged = past(TTL + Duration::from_millis(10));
        let age = |cache: &CatalogCache, at: Instant| {
            let mut entries = cache.pages.entries.lock().unwrap();
            entries.get_mut(&key()).unwrap().stored = at;
        };
        age(&cache, aged);
        assert!(cache.get(&key()).is_none(), "the first caller reloads");
        assert!(cache.get(&key()).is_some(), "the others keep the old page");
        assert!(cache.get(&key()).is_some());
        age(&cache, past(2 * TTL + Duration::from_millis(10)));
        assert!(
            cache.get(&key()).is_none(),
            "a reload that never came is not waited on"
        );
        cache.store(key(), cache.generation(), page());
        assert!(cache.get(&key()).is_some());
        cache.invalidate();
        assert!(
            cache.get(&key()).is_none(),
            "a write on this node drops it at once"
        );
    }

    #[test]
    fn owners_are_forgotten_when_entitlements_change() {
        let cache = CatalogCache::default();
        let (u, p) = (UserId::generate(), ProductId::generate());
        let generation = cache.owners_generation();
        let holdings = Holdings {
            owned: HashSet::from([p.clone()]),
            ..Default::default()
        };
        cache.store_owned(u.clone(), generation, Arc::new(holdings));
        assert!(cache.owned(&u).unwrap().owned.contains(&p));
        cache.invalidate_owners();
        assert!(cache.owned(&u).is_none());
        cache.store_owned(u.clone(), generation, Arc::default());
        assert!(cache.owned(&u).is_none(), "read before the change");
    }

    fn product(id: &ProductId) -> Product {
        Product {
            id: id.clone(),
            slug: id.to_string(),
            title: id.to_string(),
            description: String::new(),
            price: shared_types::Money::new(100, Default::default()),
            is_free: false,
            status: shared_types::ProductStatus::Published,
            preview_url: None,
            files: Vec::new(),
            download_limit: None,
            access_days: None,
            stamp_pdfs: false,
            pricing: shared_types::Pricing::Fixed,
            suggested_price: None,
            bundle_items: Vec::new(),
            via_bundle: None,
            owned: false,
            included: false,
            access_expires_at: None,
            sales: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn only_pages_with_something_the_caller_owns_are_written_again() {
        let (a, b, c) = (
            ProductId::generate(),
            ProductId::generate(),
            ProductId::generate(),
        );
        let page = Page::new(vec![product(&a), product(&b)], None);
        let owning = |ids: HashSet<ProductId>| Holdings {
            owned: ids,
            ..Default::default()
        };
        let elsewhere = page.body_for(&owning(HashSet::from([c])));
        assert_eq!(
            elsewhere.as_ptr(),
            page.body.as_ptr(),
            "the shared body itself"
        );
        let mine = page.body_for(&owning(HashSet::from([b.clone()])));
        let parsed: shared_types::ProductPage = serde_json::from_slice(&mine).unwrap();
        let owned: Vec<bool> = parsed.items.iter().map(|p| p.owned).collect();
        assert_eq!(owned, [false, true]);
        let member = Holdings {
            owned: HashSet::from([b]),
            unlocked: crate::membership::repo::Unlocked::Everything,
        };
        let parsed: shared_types::ProductPage =
            serde_json::from_slice(&page.body_for(&member)).unwrap();
        let marks: Vec<(bool, bool)> = parsed.items.iter().map(|p| (p.owned, p.included)).collect();
        assert_eq!(
            marks,
            [(false, true), (true, false)],
            "owned outright is not 'included'"
        );
    }

    #[test]
    fn the_assembled_body_is_a_product_page() {
        let page = Page::new(Vec::new(), Some("abc".into()));
        let parsed: shared_types::ProductPage = serde_json::from_slice(&page.body).unwrap();
        assert_eq!(parsed.next_cursor.as_deref(), Some("abc"));
        assert!(parsed.items.is_empty());
    }
}
