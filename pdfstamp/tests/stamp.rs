//! Stamping real documents and checking the result with lopdf, qpdf and poppler.

mod common;

use common::*;
use lopdf::Document;
use pdfstamp::{prepare, stamp, stamp_text, tail, Plan, Stamp};

fn expected(email: &str, order: &str) -> String {
    normalise(&stamp_text(&Stamp {
        licensee: email,
        order_id: order,
    }))
}

/// Everything a stamped copy must satisfy, for any input document.
fn check_stamped(name: &str, original: &[u8], email: &str, order: &str) -> Vec<u8> {
    let plan = prepare(original).unwrap_or_else(|e| panic!("{name}: prepare failed: {e}"));
    assert_eq!(plan.original_len(), original.len() as u64);
    let before = Document::load_mem(original).expect("original loads");
    let pages = before.get_pages().len();
    assert_eq!(plan.page_count(), pages, "{name}: page count in the plan");

    let who = Stamp {
        licensee: email,
        order_id: order,
    };
    let tail_bytes = tail(&plan, &who).expect("tail");
    let mut out = original.to_vec();
    out.extend_from_slice(&tail_bytes);
    assert_eq!(
        &out[..original.len()],
        original,
        "{name}: the original bytes come first, unchanged"
    );
    assert_eq!(
        stamp(original, &who).expect("stamp"),
        out,
        "{name}: stamp() is original ++ tail"
    );

    // A plan read back from its bytes writes the same tail.
    let reread = Plan::from_bytes(&plan.to_bytes()).expect("plan round trip");
    assert_eq!(
        tail(&reread, &who).unwrap(),
        tail_bytes,
        "{name}: tail from a stored plan"
    );

    // lopdf: same pages, Info carries the stamp and keeps what it had, outlines survive.
    let after = Document::load_mem(&out).expect("stamped loads");
    assert!(
        after.xref_recovery.is_none(),
        "{name}: stamped xref read as written"
    );
    assert_eq!(
        after.get_pages().len(),
        pages,
        "{name}: page count after stamping"
    );
    assert_eq!(
        info_value(&after, b"Licensee").as_deref(),
        Some(email),
        "{name}: /Licensee"
    );
    assert_eq!(
        info_value(&after, b"OrderId").as_deref(),
        Some(order),
        "{name}: /OrderId"
    );
    for key in [&b"Title"[..], b"Author", b"Subject"] {
        assert_eq!(
            info_value(&after, key),
            info_value(&before, key),
            "{name}: Info /{} kept",
            String::from_utf8_lossy(key)
        );
    }
    let outlines = |doc: &Document| {
        doc.catalog()
            .ok()
            .and_then(|c| c.get(b"Outlines").ok())
            .cloned()
    };
    assert_eq!(
        outlines(&after),
        outlines(&before),
        "{name}: /Outlines kept"
    );
    // The trailer's first /ID element is the original's.
    let id0 = |doc: &Document| {
        doc.trailer
            .get(b"ID")
            .ok()
            .and_then(|a| a.as_array().ok())
            .and_then(|a| a.first().cloned())
    };
    if id0(&before).is_some() {
        assert_eq!(id0(&after), id0(&before), "{name}: /ID kept");
    }
    assert_eq!(after.xref_start as u64, {
        let s = String::from_utf8_lossy(&tail_bytes);
        let at = s.rfind("startxref").unwrap();
        s[at + 9..]
            .trim()
            .trim_end_matches("%%EOF")
            .trim()
            .parse::<u64>()
            .unwrap()
    });

    let path = write(&format!("{name}.pdf"), &out);
    assert_qpdf_clean(&path);
    let want = expected(email, order);
    for page in [1, pages] {
        if let Some(text) = page_text(&path, page) {
            assert!(
                text.contains(&want),
                "{name}: page {page} text lacks {want:?}:\n{text}"
            );
        }
    }
    if let Some(count) = pdfinfo_pages(&path) {
        assert_eq!(count, pages, "{name}: pdfinfo page count");
    }
    if let Some(info) = pdfinfo(&path, &["-custom", "-enc", "UTF-8"]) {
        let field = |key: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::trim)
        };
        assert_eq!(
            field("Licensee:"),
            Some(email),
            "{name}: pdfinfo -custom:\n{info}"
        );
        assert_eq!(
            field("OrderId:"),
            Some(order),
            "{name}: pdfinfo -custom:\n{info}"
        );
    }
    out
}

#[test]
fn classic_xref_table_with_outline() {
    let original = save_table(&mut simple_doc(3));
    let out = check_stamped("table", &original, EMAIL, ORDER);
    // The update uses a classic table like the original.
    let tail = &out[original.len()..];
    assert!(has(tail, b"xref\n") && has(tail, b"trailer"));
}

#[test]
fn non_latin1_email() {
    let original = save_table(&mut simple_doc(3));
    check_stamped("unicode", &original, UNICODE_EMAIL, "42");
    check_stamped("unicode-de", &original, "ünïcødé@exämple.de", "ORD-ÄÖÜ");
}

#[test]
fn characters_without_glyphs_still_extract() {
    // DejaVu Sans has no CJK: drawn as .notdef, extracted through ToUnicode.
    let original = save_table(&mut simple_doc(2));
    check_stamped("cjk", &original, "山田@例え.jp", "7");
}

#[test]
fn xref_stream_and_object_streams() {
    let original = save_xref_stream(&mut simple_doc(3));
    let out = check_stamped("xrefstream", &original, UNICODE_EMAIL, ORDER);
    // The update is a cross-reference stream too, never a classic table.
    let tail = &out[original.len()..];
    assert!(has(tail, b"/Type /XRef"));
    assert!(!has(tail, b"trailer"));
}

#[test]
fn document_with_its_own_incremental_update() {
    let original = incremental_doc();
    assert!(
        !original.ends_with(b"\n"),
        "the fixture ends right after %%EOF"
    );
    let out = check_stamped("incremental", &original, EMAIL, ORDER);
    assert_eq!(out[original.len()], b'\n', "the tail starts on a new line");
    // /Prev is the original's LAST startxref, not the first revision's.
    let last = Document::load_mem(&original).unwrap().xref_start;
    let tail = String::from_utf8_lossy(&out[original.len()..]).into_owned();
    assert!(
        tail.contains(&format!("/Prev {last} ")) || tail.contains(&format!("/Prev {last}>")),
        "{tail}"
    );
    let after = Document::load_mem(&out).unwrap();
    assert_eq!(
        info_value(&after, b"Title").as_deref(),
        Some("Second revision")
    );
    let path = tmp("incremental.pdf");
    if let Some(text) = page_text(&path, 2) {
        assert!(
            text.contains("Revised in revision two"),
            "page 2 keeps its second-revision content: {text}"
        );
        assert!(text.contains(&expected(EMAIL, ORDER)));
    }
}

#[test]
fn inherited_attributes_and_contents_arrays() {
    let original = inherited_doc();
    let out = check_stamped("inherited", &original, EMAIL, ORDER);
    let doc = Document::load_mem(&out).unwrap();
    let pages: Vec<_> = doc.get_pages().values().copied().collect();
    for (i, id) in pages.iter().enumerate() {
        let fonts = doc.get_page_fonts(*id).unwrap();
        // The existing fonts stay, the stamp's font is added under a fresh name.
        assert!(fonts.contains_key(&b"F1"[..]), "page {i}: F1 kept");
        assert!(
            fonts.contains_key(&b"FolioStamp1"[..]),
            "page {i}: the document's own FolioStamp1 kept"
        );
        assert!(
            fonts.contains_key(&b"FolioStamp2"[..]),
            "page {i}: stamp font under a fresh name"
        );
        let page = doc.get_dictionary(*id).unwrap();
        assert!(page.has(b"MediaBox"), "page {i}: MediaBox written out");
    }
    // The inherited CropBox and Rotate are written on pages 2 and 3, page 3's own Rotate wins.
    let rotate = |i: usize| {
        doc.get_dictionary(pages[i])
            .unwrap()
            .get(b"Rotate")
            .ok()
            .and_then(|r| r.as_i64().ok())
    };
    assert_eq!(rotate(1), Some(180));
    assert_eq!(rotate(2), Some(90));
    assert_eq!(rotate(0), None);
    assert_eq!(rotate(4), Some(270));
    let path = tmp("inherited.pdf");
    for (page, needle) in [
        (1, "First part"),
        (1, "second part"),
        (2, "Indirect contents array"),
        (3, "Rotated page"),
        (5, "Card"),
    ] {
        if let Some(text) = page_text(&path, page) {
            assert!(
                text.contains(needle),
                "page {page} keeps {needle:?}: {text}"
            );
            assert!(
                text.contains(&expected(EMAIL, ORDER)),
                "page {page}: {text}"
            );
        }
    }
    if let Some(text) = page_text(&path, 4) {
        assert!(
            text.contains(&expected(EMAIL, ORDER)),
            "page 4 (no contents): {text}"
        );
    }
}

/// Where poppler finds the word "Licensed" on each page, in displayed coordinates
/// (origin top left, y down): it must sit near the bottom edge, inside the page, upright.
#[test]
fn stamp_sits_at_the_displayed_bottom_on_rotated_and_cropped_pages() {
    let Some(pdftotext) = tool("pdftotext") else {
        return;
    };
    let out = stamp(
        &inherited_doc(),
        &Stamp {
            licensee: EMAIL,
            order_id: ORDER,
        },
    )
    .unwrap();
    let path = write("positions.pdf", &out);
    // Coordinates within the CropBox, the part of the page a viewer shows.
    let (code, html, stderr) = run(
        &pdftotext,
        &["-bbox", "-cropbox", path.to_str().unwrap(), "-"],
    );
    assert_eq!(code, 0, "{stderr}");
    let pages: Vec<&str> = html.split("<page ").skip(1).collect();
    assert_eq!(pages.len(), 5);
    for (i, page) in pages.iter().enumerate() {
        let attr = |s: &str, name: &str| -> f64 {
            let at = s
                .find(&format!("{name}=\""))
                .unwrap_or_else(|| panic!("{name} in {s}"))
                + name.len()
                + 2;
            s[at..].split('"').next().unwrap().parse().unwrap()
        };
        let (width, height) = (attr(page, "width"), attr(page, "height"));
        // pdftotext gives word boxes in the displayed frame but the page's size unrotated:
        // pages 3 and 5 are turned a quarter.
        let (width, height) = if i == 2 || i == 4 {
            (height, width)
        } else {
            (width, height)
        };
        let word = page
            .split("<word ")
            .find(|w| w.contains(">Licensed<"))
            .unwrap_or_else(|| panic!("page {}: no stamp word", i + 1));
        let (x0, y0, x1, y1) = (
            attr(word, "xMin"),
            attr(word, "yMin"),
            attr(word, "xMax"),
            attr(word, "yMax"),
        );
        assert!(
            x0 >= 0.0 && x1 <= width && y0 >= 0.0 && y1 <= height,
            "page {}: inside the page",
            i + 1
        );
        assert!(
            height - y1 < 20.0,
            "page {}: near the displayed bottom ({y1} of {height})",
            i + 1
        );
        // Upright text: a word wider than it is tall.
        assert!(x1 - x0 > y1 - y0, "page {}: horizontal on screen", i + 1);
    }
}

#[test]
fn tail_is_deterministic_and_depends_on_the_stamp() {
    let original = save_xref_stream(&mut simple_doc(3));
    let plan = prepare(&original).unwrap();
    let a = Stamp {
        licensee: EMAIL,
        order_id: ORDER,
    };
    let first = tail(&plan, &a).unwrap();
    let second = tail(&prepare(&original).unwrap(), &a).unwrap();
    assert_eq!(first, second, "same plan and stamp, same bytes");
    let other = tail(
        &plan,
        &Stamp {
            licensee: "other@example.com",
            order_id: ORDER,
        },
    )
    .unwrap();
    assert_ne!(first, other);
}

#[test]
fn stamping_a_stamped_copy_again() {
    // A seller may upload a copy that was stamped before: it takes a second update. (The two
    // stamps then share the bottom line, so only the metadata is checked here.)
    let once = stamp(
        &save_table(&mut simple_doc(2)),
        &Stamp {
            licensee: EMAIL,
            order_id: "1",
        },
    )
    .unwrap();
    let twice = stamp(
        &once,
        &Stamp {
            licensee: "second@example.com",
            order_id: "2",
        },
    )
    .unwrap();
    assert!(twice.starts_with(&once));
    let doc = Document::load_mem(&twice).unwrap();
    assert_eq!(doc.get_pages().len(), 2);
    assert_eq!(
        info_value(&doc, b"Licensee").as_deref(),
        Some("second@example.com")
    );
    assert_eq!(info_value(&doc, b"OrderId").as_deref(), Some("2"));
    let page = doc.get_pages()[&1];
    let fonts = doc.get_page_fonts(page).unwrap();
    assert!(fonts.contains_key(&b"FolioStamp1"[..]) && fonts.contains_key(&b"FolioStamp2"[..]));
    assert_qpdf_clean(&write("twice.pdf", &twice));
}

#[test]
fn plan_bytes_reject_nonsense() {
    assert!(Plan::from_bytes(b"").is_err());
    assert!(Plan::from_bytes(b"{\"version\":1}").is_err());
    let plan = prepare(&save_table(&mut simple_doc(1))).unwrap();
    let json = String::from_utf8(plan.to_bytes()).unwrap();
    let other_version = json.replacen("\"version\":1", "\"version\":999", 1);
    assert!(matches!(
        Plan::from_bytes(other_version.as_bytes()),
        Err(pdfstamp::StampError::BadPlan(_))
    ));
}

/// Page images for a person to look at (and poppler must render them without complaint).
#[test]
fn renders_with_poppler() {
    let Some(pdftoppm) = tool("pdftoppm") else {
        return;
    };
    for (name, original) in [
        ("render-table", save_table(&mut simple_doc(3))),
        ("render-inherited", inherited_doc()),
    ] {
        let out = stamp(
            &original,
            &Stamp {
                licensee: UNICODE_EMAIL,
                order_id: ORDER,
            },
        )
        .unwrap();
        let path = write(&format!("{name}.pdf"), &out);
        let prefix = tmp(name);
        let (code, stdout, stderr) = run(
            &pdftoppm,
            &[
                "-png",
                "-r",
                "50",
                path.to_str().unwrap(),
                prefix.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "pdftoppm: {stdout}{stderr}");
        assert!(stderr.trim().is_empty(), "pdftoppm complained: {stderr}");
    }
}

/// Files as another writer makes them: qpdf linearizes, writes object streams, and sets /ID.
#[test]
fn files_rewritten_by_qpdf() {
    let Some(qpdf) = tool("qpdf") else { return };
    let plain = write("plain-for-qpdf.pdf", &save_table(&mut simple_doc(3)));
    for (name, args) in [
        ("qpdf-linearized", &["--linearize"][..]),
        ("qpdf-objstreams", &["--object-streams=generate"][..]),
        ("qpdf-qdf", &["--qdf", "--object-streams=disable"][..]),
    ] {
        let target = tmp(&format!("{name}-original.pdf"));
        let mut all: Vec<&str> = args.to_vec();
        all.push(plain.to_str().unwrap());
        all.push(target.to_str().unwrap());
        let (code, stdout, stderr) = run(&qpdf, &all);
        assert_eq!(code, 0, "qpdf {args:?}: {stdout}{stderr}");
        let original = std::fs::read(&target).unwrap();
        check_stamped(name, &original, UNICODE_EMAIL, ORDER);
    }
}
