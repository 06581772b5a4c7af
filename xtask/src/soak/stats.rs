//! Counting what the workers saw: statuses and latencies per kind of request, and the
//! process's memory over the run.

use super::*;

// Counting

#[derive(Default)]
pub(super) struct KindStats {
    pub(super) statuses: BTreeMap<u16, u64>,
    /// Transport errors: refused, reset, timed out, unreadable body.
    pub(super) errors: u64,
    /// Answers with a status the step did not expect (5xx included).
    pub(super) unexpected: u64,
    pub(super) latencies_us: Vec<u32>,
}

#[derive(Default)]
pub(super) struct Stats {
    pub(super) kinds: BTreeMap<&'static str, KindStats>,
    /// The first problems, word for word.
    pub(super) problems: Vec<String>,
    pub(super) problem_count: u64,
    /// Broken invariants seen during the run (e.g. owned without a payment).
    pub(super) violations: u64,
    pub(super) downloaded_bytes: u64,
}

impl Stats {
    pub(super) fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < 20 {
            self.problems.push(text);
        }
    }

    pub(super) fn violation(&mut self, text: String) {
        self.violations += 1;
        self.problem(format!("invariant: {text}"));
    }

    pub(super) fn merge(&mut self, other: Stats) {
        for (kind, o) in other.kinds {
            let k = self.kinds.entry(kind).or_default();
            for (status, n) in o.statuses {
                *k.statuses.entry(status).or_default() += n;
            }
            k.errors += o.errors;
            k.unexpected += o.unexpected;
            k.latencies_us.extend(o.latencies_us);
        }
        for p in other.problems {
            if self.problems.len() < 20 {
                self.problems.push(p);
            }
        }
        self.problem_count += other.problem_count;
        self.violations += other.violations;
        self.downloaded_bytes += other.downloaded_bytes;
    }

    pub(super) fn requests(&self) -> u64 {
        self.kinds
            .values()
            .map(|k| k.statuses.values().sum::<u64>() + k.errors)
            .sum()
    }

    pub(super) fn status_classes(&self) -> BTreeMap<String, u64> {
        let mut classes = BTreeMap::new();
        for k in self.kinds.values() {
            for (status, n) in &k.statuses {
                *classes.entry(format!("{}xx", status / 100)).or_default() += n;
            }
            if k.errors > 0 {
                *classes.entry("transport error".into()).or_default() += k.errors;
            }
        }
        classes
    }

    pub(super) fn count_5xx(&self) -> u64 {
        self.kinds
            .values()
            .flat_map(|k| k.statuses.iter())
            .filter(|(s, _)| **s >= 500)
            .map(|(_, n)| n)
            .sum()
    }
}

pub(super) fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

pub(super) struct Rss {
    pub(super) samples: Vec<(f64, u64)>,
    /// The largest size SQLite's write-ahead log reached (bytes), when folio runs on SQLite: a
    /// log that keeps growing means checkpoints never finish and every read slows down.
    pub(super) wal_peak: Option<u64>,
}

pub(super) fn sample_rss(
    pid: u32,
    wal: Option<PathBuf>,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> Rss {
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut wal_peak = None;
    while !stop.load(Ordering::Relaxed) {
        if let Some(kb) = bench::rss_kb(pid, "VmRSS:") {
            samples.push((start.elapsed().as_secs_f64(), kb));
        }
        if let Some(len) = wal
            .as_ref()
            .and_then(|w| w.metadata().ok())
            .map(|m| m.len())
        {
            wal_peak = Some(wal_peak.unwrap_or(0).max(len));
        }
        let next = Instant::now() + every;
        while Instant::now() < next && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Rss { samples, wal_peak }
}

pub(super) fn median(values: &[u64]) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Applies [`RSS_RULE`]: (baseline kB, end kB, growth within bounds).
pub(super) fn rss_verdict(samples: &[(f64, u64)]) -> (u64, u64, bool) {
    let kb: Vec<u64> = samples.iter().map(|s| s.1).collect();
    let after = &kb[(kb.len() / 5).min(kb.len())..];
    if after.is_empty() {
        return (0, 0, true);
    }
    let baseline = median(&after[..(after.len() / 5).max(1)]);
    let end = median(&kb[kb.len() - (kb.len() / 10).max(1)..]);
    let bound = ((baseline as f64 * RSS_MAX_GROWTH) as u64).max(RSS_MAX_GROWTH_KB);
    (baseline, end, end <= baseline + bound)
}
