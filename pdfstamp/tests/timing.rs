//! A 500-page book: the per-download tail stays small and valid. Its time is printed for the
//! record (`cargo test --release -p pdfstamp --test timing -- --nocapture`); speed targets belong
//! in benchmarks, not in tests.

mod common;

use std::time::Instant;

use common::*;
use pdfstamp::{prepare, tail, Stamp};

#[test]
fn five_hundred_pages() {
    let original = save_table(&mut simple_doc(500));
    let started = Instant::now();
    let plan = prepare(&original).expect("prepare");
    let prepare_time = started.elapsed();
    assert_eq!(plan.page_count(), 500);
    let plan_size = plan.to_bytes().len();

    let who = Stamp {
        licensee: UNICODE_EMAIL,
        order_id: "ord_500",
    };
    let mut best = std::time::Duration::MAX;
    let mut bytes = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        bytes = tail(&plan, &who).expect("tail");
        best = best.min(started.elapsed());
    }
    println!(
        "500 pages: original {} bytes, prepare {prepare_time:?}, plan {plan_size} bytes, tail {} bytes in {best:?} (best of 20, {})",
        original.len(),
        bytes.len(),
        if cfg!(debug_assertions) { "debug build" } else { "release build" }
    );
    // A rewritten dictionary per page, plus the font: well under a megabyte.
    assert!(bytes.len() < 400_000, "tail is {} bytes", bytes.len());

    let mut out = original.clone();
    out.extend_from_slice(&bytes);
    let path = write("book.pdf", &out);
    assert_qpdf_clean(&path);
    if let Some(text) = page_text(&path, 500) {
        assert!(
            text.contains(&normalise(&pdfstamp::stamp_text(&who))),
            "{text}"
        );
    }
}
