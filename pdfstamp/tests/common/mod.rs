//! Test PDFs made in code, and the external checkers (qpdf, poppler-utils).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use lopdf::content::{Content, Operation};
use lopdf::xref::XrefType;
use lopdf::{dictionary, Bookmark, Document, Object, ObjectId, SaveOptions, Stream, StringFormat};

pub const EMAIL: &str = "buyer@example.com";
pub const ORDER: &str = "ord_7Hq2";
pub const UNICODE_EMAIL: &str = "zoë@пример.рф";

/// A UTF-16BE text string with a byte order mark, as PDF writes non-Latin text.
pub fn text_string(text: &str) -> Object {
    let mut bytes = vec![0xFE, 0xFF];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_be_bytes());
    }
    Object::String(bytes, StringFormat::Hexadecimal)
}

fn page_content(label: &str) -> Vec<u8> {
    Content {
        operations: vec![
            // An unbalanced transformation and colour that would move and hide a stamp drawn
            // without q … Q around the original content.
            Operation::new(
                "cm",
                vec![
                    0.5.into(),
                    0.into(),
                    0.into(),
                    0.5.into(),
                    300.into(),
                    400.into(),
                ],
            ),
            Operation::new("rg", vec![1.into(), 1.into(), 1.into()]),
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 36.into()]),
            Operation::new("Td", vec![0.into(), 0.into()]),
            Operation::new("Tj", vec![Object::string_literal(label)]),
            Operation::new("ET", vec![]),
            Operation::new("rg", vec![0.into(), 0.into(), 0.into()]),
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 24.into()]),
            Operation::new("Td", vec![(-400).into(), 0.into()]),
            Operation::new("Tj", vec![Object::string_literal(label)]),
            Operation::new("ET", vec![]),
        ],
    }
    .encode()
    .expect("content encodes")
}

/// A document of `pages` pages, each saying "Page N", with a bookmark to page 1 and an
/// Info dictionary with a non-Latin-1 title.
pub fn simple_doc(pages: usize) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let mut kids = Vec::new();
    let mut first_page = None;
    for n in 1..=pages {
        let content_id = doc.add_object(Stream::new(
            dictionary! {},
            page_content(&format!("Page {n}")),
        ));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        first_page.get_or_insert(page_id);
        kids.push(Object::Reference(page_id));
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => pages as i64,
        }),
    );
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    doc.trailer.set("Root", catalog_id);
    if let Some(page) = first_page {
        doc.add_bookmark(
            Bookmark::new("Chapter One".into(), [0.0, 0.0, 0.0], 0, page),
            None,
        );
        if let Some(outline) = doc.build_outline() {
            if let Ok(catalog) = doc.get_dictionary_mut(catalog_id) {
                catalog.set("Outlines", outline);
            }
        }
    }
    let info_id = doc.add_object(dictionary! {
        "Title" => text_string("Ünïcødé Handbook — Ελληνικά"),
        "Author" => Object::string_literal("Folio Tests"),
    });
    doc.trailer.set("Info", info_id);
    doc
}

pub fn save_table(doc: &mut Document) -> Vec<u8> {
    // A new lopdf document defaults to a cross-reference stream.
    doc.reference_table.cross_reference_type = XrefType::CrossReferenceTable;
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    assert!(has(&out, b"\nxref"), "expected a classic xref table");
    out
}

pub fn save_xref_stream(doc: &mut Document) -> Vec<u8> {
    let mut out = Vec::new();
    let options = SaveOptions::builder()
        .use_xref_streams(true)
        .use_object_streams(true)
        .max_objects_per_stream(100)
        .build();
    doc.save_with_options(&mut out, options).expect("save");
    assert!(!has(&out, b"\nxref"), "expected no classic xref table");
    assert!(has(&out, b"/ObjStm"), "expected object streams");
    out
}

/// The 3-page document with a second revision appended by hand: a new Info and page 2
/// rewritten with an extra content stream. The file ends right after `%%EOF`, no EOL.
pub fn incremental_doc() -> Vec<u8> {
    let mut doc = simple_doc(3);
    let mut bytes = save_table(&mut doc);
    let loaded = Document::load_mem(&bytes).expect("reload");
    let prev = loaded.xref_start;
    let size = loaded.max_id + 1;
    let root = loaded.trailer.get(b"Root").unwrap().as_reference().unwrap();
    let pages: Vec<ObjectId> = loaded.get_pages().values().copied().collect();
    let page2 = pages[1];
    let old = loaded.get_dictionary(page2).unwrap();
    let parent = old.get(b"Parent").unwrap().as_reference().unwrap();
    let resources = old.get(b"Resources").unwrap().as_reference().unwrap();
    let contents = old.get(b"Contents").unwrap().as_reference().unwrap();

    let info_id = size;
    let extra_id = size + 1;
    let mut offsets = Vec::new();
    if !bytes.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    offsets.push((info_id, bytes.len()));
    bytes.extend_from_slice(
        format!("{info_id} 0 obj\n<< /Title (Second revision) /Author (Folio Tests) /Subject (kept) >>\nendobj\n").as_bytes(),
    );
    let extra = b"BT /F1 18 Tf 72 100 Td (Revised in revision two) Tj ET";
    offsets.push((extra_id, bytes.len()));
    bytes.extend_from_slice(
        format!("{extra_id} 0 obj\n<< /Length {} >>\nstream\n", extra.len()).as_bytes(),
    );
    bytes.extend_from_slice(extra);
    bytes.extend_from_slice(b"\nendstream\nendobj\n");
    let page_offset = bytes.len();
    bytes.extend_from_slice(
        format!(
            "{} {} obj\n<< /Type /Page /Parent {} {} R /MediaBox [0 0 595 842] /Resources {} {} R /Contents [{} {} R {extra_id} 0 R] >>\nendobj\n",
            page2.0, page2.1, parent.0, parent.1, resources.0, resources.1, contents.0, contents.1
        )
        .as_bytes(),
    );
    let xref_at = bytes.len();
    let mut xref = format!(
        "xref\n{} 1\n{page_offset:010} {:05} n\r\n{info_id} 2\n",
        page2.0, page2.1
    );
    for (_, offset) in &offsets {
        xref.push_str(&format!("{offset:010} 00000 n\r\n"));
    }
    xref.push_str(&format!(
        "trailer\n<< /Size {} /Root {} {} R /Info {info_id} 0 R /Prev {prev} >>\nstartxref\n{xref_at}\n%%EOF",
        extra_id + 1,
        root.0,
        root.1
    ));
    bytes.extend_from_slice(xref.as_bytes());
    bytes
}

/// Five pages whose attributes come from /Pages ancestors: Resources (by reference, with a
/// font already named FolioStamp1), MediaBox, CropBox and Rotate; Contents as arrays, one as
/// an indirect array.
pub fn inherited_doc() -> Vec<u8> {
    let mut doc = Document::with_version("1.4");
    let root_pages = doc.new_object_id();
    let inner_pages = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Times-Roman",
    });
    let fonts_id = doc.add_object(dictionary! { "F1" => font_id, "FolioStamp1" => font_id });
    let resources_id = doc.add_object(dictionary! {
        "Font" => fonts_id,
        "ProcSet" => vec!["PDF".into(), "Text".into()],
    });
    let part = |doc: &mut Document, text: &str, font: &str| {
        doc.add_object(Stream::new(
            dictionary! {},
            format!("BT /{font} 20 Tf 80 500 Td ({text}) Tj ET\n").into_bytes(),
        ))
    };
    let a1 = part(&mut doc, "First part", "F1");
    let a2 = part(&mut doc, "second part", "FolioStamp1");
    let page1 = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => root_pages,
        "Contents" => vec![a1.into(), a2.into()],
    });
    let b1 = part(&mut doc, "Inner page", "F1");
    let b2 = part(&mut doc, "Indirect contents array", "F1");
    let array_id = doc.add_object(vec![Object::Reference(b1), Object::Reference(b2)]);
    let page2 = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => inner_pages, "Contents" => array_id,
    });
    let c1 = part(&mut doc, "Rotated page", "F1");
    let page3 = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => inner_pages, "Contents" => vec![c1.into()], "Rotate" => 90,
    });
    // No contents at all.
    let page4 = doc.add_object(dictionary! { "Type" => "Page", "Parent" => root_pages });
    // A small landscape card turned the other way, with its own box.
    let e1 = doc.add_object(Stream::new(
        dictionary! {},
        b"BT /F1 20 Tf 40 150 Td (Card) Tj ET\n".to_vec(),
    ));
    let page5 = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => root_pages, "Contents" => e1, "Rotate" => 270,
        "MediaBox" => vec![0.into(), 0.into(), 400.into(), 300.into()],
    });
    doc.objects.insert(
        inner_pages,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Parent" => root_pages,
            "Kids" => vec![page2.into(), page3.into()], "Count" => 2,
            "CropBox" => vec![36.into(), 36.into(), 576.into(), 756.into()],
            "Rotate" => 180,
        }),
    );
    doc.objects.insert(
        root_pages,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page1.into(), inner_pages.into(), page4.into(), page5.into()], "Count" => 5,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => root_pages });
    doc.trailer.set("Root", catalog_id);
    save_table(&mut doc)
}

// ---- external tools ----

pub fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pdfstamp");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir.join(name)
}

/// The path of a poppler/qpdf binary, or None with a loud note when it is missing (a failure under CI).
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or(None)
        .or_else(|| Some(Path::new("/usr/bin").join(name)).filter(|p| p.is_file()));
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("`{name}` is not installed: install qpdf and poppler-utils (apt-get install qpdf poppler-utils)");
        }
        eprintln!("\n!!!!! SKIPPING a check: `{name}` is not installed (apt-get install qpdf poppler-utils); under CI this fails !!!!!\n");
    }
    found
}

pub fn run(tool_path: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(tool_path)
        .args(args)
        .output()
        .expect("run tool");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = tmp(name);
    std::fs::write(&path, bytes).expect("write pdf");
    path
}

/// `qpdf --check` passes with no warnings.
pub fn assert_qpdf_clean(path: &Path) {
    let Some(qpdf) = tool("qpdf") else { return };
    let (code, stdout, stderr) = run(&qpdf, &["--check", path.to_str().unwrap()]);
    assert_eq!(
        code,
        0,
        "qpdf --check {}:\n{stdout}\n{stderr}",
        path.display()
    );
    let all = format!("{stdout}{stderr}").to_lowercase();
    assert!(
        !all.contains("warning"),
        "qpdf --check warned on {}:\n{stdout}\n{stderr}",
        path.display()
    );
    assert!(
        stdout.contains("No syntax or stream encoding errors"),
        "{stdout}"
    );
}

pub fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of one page, whitespace collapsed, or None when pdftotext is missing.
pub fn page_text(path: &Path, page: usize) -> Option<String> {
    let pdftotext = tool("pdftotext")?;
    let p = page.to_string();
    let (code, stdout, stderr) = run(
        &pdftotext,
        &[
            "-enc",
            "UTF-8",
            "-f",
            &p,
            "-l",
            &p,
            path.to_str().unwrap(),
            "-",
        ],
    );
    assert_eq!(code, 0, "pdftotext: {stderr}");
    assert!(
        !stderr.to_lowercase().contains("error"),
        "pdftotext complained: {stderr}"
    );
    Some(normalise(&stdout))
}

pub fn pdfinfo(path: &Path, extra: &[&str]) -> Option<String> {
    let pdfinfo = tool("pdfinfo")?;
    let mut args: Vec<&str> = extra.to_vec();
    args.push(path.to_str().unwrap());
    let (code, stdout, stderr) = run(&pdfinfo, &args);
    assert_eq!(code, 0, "pdfinfo: {stderr}");
    Some(stdout)
}

pub fn pdfinfo_pages(path: &Path) -> Option<usize> {
    let info = pdfinfo(path, &[])?;
    let line = info
        .lines()
        .find(|l| l.starts_with("Pages:"))
        .expect("Pages: line");
    Some(line["Pages:".len()..].trim().parse().expect("page count"))
}

/// The decoded value of a text string in the Info dictionary of a PDF, read back with lopdf.
pub fn info_value(doc: &Document, key: &[u8]) -> Option<String> {
    let info = doc.trailer.get(b"Info").ok()?;
    let info = doc.dereference(info).ok()?.1.as_dict().ok()?;
    let bytes = info.get(key).ok()?.as_str().ok()?;
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16(&units).ok()
    } else {
        Some(bytes.iter().map(|&b| char::from(b)).collect())
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn has(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
