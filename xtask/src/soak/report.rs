//! The verdict and bench/SOAK.md.

use super::*;

pub(super) struct Report<'a> {
    pub(super) opts: &'a Options,
    pub(super) backend: &'a str,
    pub(super) stats: &'a Stats,
    pub(super) elapsed: Duration,
    pub(super) windows: usize,
    pub(super) expected_events: usize,
    pub(super) webhooks: &'a Webhooks,
    pub(super) reconciled: &'a Reconcile,
    pub(super) rss: &'a Rss,
    pub(super) rss_idle: u64,
    pub(super) rss_peak: u64,
    pub(super) emulator_rss: u64,
}

impl Report<'_> {
    /// The Markdown summary, and what failed.
    pub(super) fn render(&self, root: &Path) -> (String, Vec<String>) {
        let (s, r, w) = (self.stats, self.reconciled, self.webhooks);
        let mut failures = Vec::new();
        let secs = self.elapsed.as_secs_f64();
        let (cpu, cores) = bench::machine();
        let mut md = format!(
            "## Soak\n\nWritten by `cargo xtask soak`. Date: {}. Commit: {}. Machine: {cpu}, {cores} cores.\n\
             folio {} build on {}, the Stripe emulator binary; {} connections (one thread and one \
             keep-alive connection each, {} users each) for {:.0} s; {} free and {} paid products \
             of {} KiB. Webhooks: every event delivered 3 times (2 concurrent duplicates), and \
             {} windows in which events were held back and then released in reverse order.\n\n",
            bench::date_utc(),
            bench::commit(root),
            if self.opts.release { "release" } else { "debug" },
            self.backend,
            self.opts.connections,
            USERS_PER_CONNECTION,
            secs,
            FREE_PRODUCTS,
            PAID_PRODUCTS,
            FILE_BYTES >> 10,
            self.windows,
        );
        let mut all: Vec<u32> = Vec::new();
        md.push_str("| request | count | req/s | statuses | unexpected | errors | p50 ms | p99 ms |\n| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n");
        for (kind, k) in &s.kinds {
            let mut lat = k.latencies_us.clone();
            lat.sort_unstable();
            all.extend_from_slice(&lat);
            let n: u64 = k.statuses.values().sum::<u64>() + k.errors;
            let statuses: Vec<String> = k
                .statuses
                .iter()
                .map(|(st, c)| format!("{st}: {c}"))
                .collect();
            md.push_str(&format!(
                "| {kind} | {n} | {:.1} | {} | {} | {} | {:.2} | {:.2} |\n",
                n as f64 / secs,
                statuses.join(", "),
                k.unexpected,
                k.errors,
                percentile(&lat, 0.50),
                percentile(&lat, 0.99),
            ));
        }
        all.sort_unstable();
        let total = s.requests();
        let classes: Vec<String> = s
            .status_classes()
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        md.push_str(&format!(
            "| **all** | {total} | {:.1} | {} | {} | {} | {:.2} | {:.2} |\n\n",
            total as f64 / secs,
            classes.join(", "),
            s.kinds.values().map(|k| k.unexpected).sum::<u64>(),
            s.kinds.values().map(|k| k.errors).sum::<u64>(),
            percentile(&all, 0.50),
            percentile(&all, 0.99),
        ));
        md.push_str(&format!(
            "(Requests counted during the run and the checks after it; \"page\" and \"stripe\" \
             rows go to the emulator. Downloaded: {:.1} MB.)\n\n",
            s.downloaded_bytes as f64 / 1_048_576.0
        ));
        let hooks: Vec<String> = w
            .statuses
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        md.push_str(&format!(
            "Webhook deliveries to folio: {} ({}; time to answer p50 {:.0} ms, p99 {:.0} ms, \
             max {} ms); {} of the {} events the driver caused were accepted; emulator idle at \
             the end: {}.\n\n",
            w.deliveries,
            hooks.join(", "),
            percentile(&w.micros, 0.50),
            percentile(&w.micros, 0.99),
            w.micros.last().copied().unwrap_or_default() / 1000,
            w.events_delivered,
            self.expected_events,
            if w.idle { "yes" } else { "NO" }
        ));
        if let (false, Some(first)) = (w.slow_at.is_empty(), w.first_sent) {
            let mut by_minute = BTreeMap::<i64, usize>::new();
            for t in &w.slow_at {
                *by_minute.entry((t - first) / 60).or_default() += 1;
            }
            let minutes: Vec<String> = by_minute
                .iter()
                .map(|(m, n)| format!("minute {}: {n}", m + 1))
                .collect();
            md.push_str(&format!(
                "Webhook attempts that took over 1 s or got no answer, by minute of the run: {}.\n\n",
                minutes.join(", ")
            ));
        }
        let outcomes: Vec<String> = r
            .by_outcome
            .iter()
            .map(|(o, n)| format!("{o:?}: {n}"))
            .collect();
        let statuses: Vec<String> = r
            .folio_by_status
            .iter()
            .map(|(st, n)| format!("{st}: {n}"))
            .collect();
        md.push_str(&format!(
            "Reconcile: {} checkouts ({}); {} orders in folio ({}); {} paid orders; {} \
             entitlements for {} distinct (user, product) pairs paid: {}.\n\n",
            r.checkouts,
            outcomes.join(", "),
            r.orders_in_folio,
            statuses.join(", "),
            r.paid_orders,
            r.entitlements,
            r.paid_pairs,
            if r.mismatch_count == 0 {
                "exact".to_owned()
            } else {
                format!("{} MISMATCHES", r.mismatch_count)
            }
        ));
        for m in &r.mismatches {
            md.push_str(&format!("- {m}\n"));
        }
        let (baseline, end, flat) = rss_verdict(&self.rss.samples);
        let mb = |kb: u64| kb as f64 / 1024.0;
        md.push_str(&format!(
            "RSS of folio: {:.1} MB idle before the traffic, {:.1} MB after warm-up (baseline), \
             {:.1} MB at the end, peak {:.1} MB; rule: {RSS_RULE}: {}. (The emulator, which \
             keeps every event and delivery in memory, ended at {:.1} MB.)\n\n",
            mb(self.rss_idle),
            mb(baseline),
            mb(end),
            mb(self.rss_peak),
            if flat { "flat" } else { "GROWING" },
            mb(self.emulator_rss),
        ));
        let n = self.rss.samples.len();
        let step = (n / 20).max(1);
        let samples: Vec<String> = self
            .rss
            .samples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % step == 0 || *i + 1 == n)
            .map(|(_, (t, kb))| format!("{t:.0} s: {:.1}", mb(*kb)))
            .collect();
        md.push_str(&format!("RSS samples (MB): {}.\n", samples.join(", ")));
        if let Some(wal) = self.rss.wal_peak {
            md.push_str(&format!(
                "\nSQLite's write-ahead log peaked at {:.1} MB.\n",
                wal as f64 / 1e6
            ));
        }
        if s.problem_count > 0 {
            md.push_str(&format!(
                "\nProblems ({}, the first {}):\n",
                s.problem_count,
                s.problems.len()
            ));
            for p in &s.problems {
                md.push_str(&format!("- {}\n", p.replace('\n', " ")));
            }
        }

        let five = s.count_5xx()
            + w.statuses
                .iter()
                .filter(|(k, _)| k.starts_with('5'))
                .map(|(_, n)| n)
                .sum::<u64>();
        if five > 0 {
            failures.push(format!("{five} responses were 5xx"));
        }
        if s.problem_count > 0 {
            failures.push(format!(
                "{} problems (unexpected statuses, transport errors, broken invariants)",
                s.problem_count
            ));
        }
        let bad_hooks: u64 = w
            .statuses
            .iter()
            .filter(|(k, _)| !k.starts_with('2'))
            .map(|(_, n)| n)
            .sum();
        if bad_hooks > 0 {
            failures.push(format!("{bad_hooks} webhook deliveries were not accepted"));
        }
        if !w.idle {
            failures.push("the emulator did not become idle".into());
        }
        if r.mismatch_count > 0 {
            failures.push(format!("{} reconcile mismatches", r.mismatch_count));
        }
        if self.opts.full && !flat {
            failures.push(format!(
                "RSS grew from {:.1} MB to {:.1} MB",
                mb(baseline),
                mb(end)
            ));
        }
        md.push_str(&format!(
            "\nVerdict: {}.\n",
            if failures.is_empty() {
                "passed".to_owned()
            } else {
                format!("FAILED ({})", failures.join("; "))
            }
        ));
        (md, failures)
    }
}

/// bench/SOAK.md gets the run; bench/RESULTS.md (written by `cargo xtask bench`) keeps its
/// content and gains a link to it if it has none.
pub(super) fn write_soak_md(root: &Path, section: &str) -> Result<()> {
    let dir = root.join("bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("SOAK.md"),
        format!("# Folio soak results\n\n{section}"),
    )?;
    let results = dir.join("RESULTS.md");
    let current = std::fs::read_to_string(&results).unwrap_or_default();
    if !current.contains("(SOAK.md)") {
        let sep = if current.is_empty() || current.ends_with("\n\n") {
            ""
        } else if current.ends_with('\n') {
            "\n"
        } else {
            "\n\n"
        };
        std::fs::write(&results, format!("{current}{sep}{}", bench::SOAK_LINK))?;
    }
    eprintln!("xtask: wrote bench/SOAK.md");
    Ok(())
}
