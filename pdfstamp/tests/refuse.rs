//! Files that must be refused at upload, with an error and without a panic.

mod common;

use common::*;
use pdfstamp::{prepare, StampError};

#[test]
fn encrypted_pdf_is_refused() {
    let Some(qpdf) = tool("qpdf") else { return };
    let plain = write("plain-for-encrypt.pdf", &save_table(&mut simple_doc(2)));
    for (name, args) in [
        // A user password: nothing readable without it.
        (
            "encrypted-user.pdf",
            vec!["--encrypt", "u", "o", "256", "--"],
        ),
        // Only an owner password: readers open it with the empty user password.
        (
            "encrypted-owner.pdf",
            vec!["--encrypt", "", "o", "256", "--"],
        ),
    ] {
        let target = tmp(name);
        let mut all: Vec<&str> = args;
        all.push(plain.to_str().unwrap());
        all.push(target.to_str().unwrap());
        let (code, stdout, stderr) = run(&qpdf, &all);
        assert_eq!(code, 0, "qpdf --encrypt: {stdout}{stderr}");
        let bytes = std::fs::read(&target).unwrap();
        assert_eq!(
            prepare(&bytes).unwrap_err(),
            StampError::Encrypted,
            "{name}"
        );
    }
}

#[test]
fn truncated_files_are_refused_without_panicking() {
    for original in [
        save_table(&mut simple_doc(2)),
        save_xref_stream(&mut simple_doc(2)),
        incremental_doc(),
    ] {
        let eof = original.windows(5).rposition(|w| w == b"%%EOF").unwrap();
        let mut cuts: Vec<usize> = (0..original.len()).step_by(37).collect();
        cuts.extend(eof.saturating_sub(40)..original.len());
        let mut refused = 0;
        for cut in cuts {
            let prefix = &original[..cut];
            let result = prepare(prefix);
            // A prefix that ends a revision (an earlier %%EOF of a file with updates, or
            // the last one less its EOL) is a whole PDF; every other prefix is truncated.
            if !prefix.trim_ascii_end().ends_with(b"%%EOF") {
                assert!(
                    result.is_err(),
                    "a file cut at {cut} of {} must be refused",
                    original.len()
                );
                refused += 1;
            } else {
                result.unwrap_or_else(|e| panic!("cut at {cut} ends a revision, yet: {e}"));
            }
        }
        assert!(refused > 40);
    }
}

#[test]
fn garbage_is_refused() {
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"%PDF-".to_vec(),
        b"hello world".to_vec(),
        b"%PDF-1.4\n%%EOF".to_vec(),
        b"%PDF-1.4\nstartxref\n999999\n%%EOF".to_vec(),
        b"%PDF-1.4\nstartxref\n0\n%%EOF\n".to_vec(),
        (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
    ];
    for bytes in cases {
        assert!(
            prepare(&bytes).is_err(),
            "{:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
        );
    }
}

#[test]
fn corrupted_bytes_do_not_panic() {
    // Flip bytes through a valid file: each result may be a plan or an error, never a panic;
    // and a plan must still give a tail.
    let original = save_table(&mut simple_doc(2));
    for i in (0..original.len()).step_by(13) {
        let mut bytes = original.clone();
        bytes[i] ^= 0x5a;
        if let Ok(plan) = prepare(&bytes) {
            pdfstamp::tail(
                &plan,
                &pdfstamp::Stamp {
                    licensee: EMAIL,
                    order_id: ORDER,
                },
            )
            .expect("a prepared plan gives a tail");
        }
    }
}

#[test]
fn a_broken_xref_is_damage_not_a_silent_repair() {
    // Shift every object by one byte: the xref table's offsets are all wrong. lopdf can
    // rebuild it by scanning, but the update's /Prev would point at a broken table.
    let original = save_table(&mut simple_doc(2));
    let at = original.windows(4).position(|w| w == b"obj\n").unwrap();
    let mut shifted = original[..at].to_vec();
    shifted.push(b' ');
    shifted.extend_from_slice(&original[at..]);
    match prepare(&shifted) {
        Err(StampError::Damaged(_)) => {}
        other => panic!("expected Damaged, got {other:?}"),
    }
}

#[test]
fn data_before_the_header_is_refused() {
    let mut bytes = b"junk\n".to_vec();
    bytes.extend_from_slice(&save_table(&mut simple_doc(1)));
    assert!(prepare(&bytes).is_err());
}
