//! A small PDF writer for the demo shop's books: US Letter pages of wrapped text in the standard
//! Helvetica fonts (nothing embedded), a title page, a contents page, page numbers, and the
//! document info. Streams are Flate-compressed, as most real PDFs' are.

use std::io::Write;

const WIDTH: f32 = 612.0;
const HEIGHT: f32 = 792.0;
const MARGIN: f32 = 72.0;
const BODY_SIZE: f32 = 11.0;
const LEADING: f32 = 15.0;
/// Helvetica's average advance is about half its size: this many characters fit in a line.
const LINE_CHARS: usize = ((WIDTH - 2.0 * MARGIN) / (BODY_SIZE * 0.5)) as usize;

/// A book: a title page, contents, then each chapter from a new page.
pub struct Book<'a> {
    pub title: &'a str,
    pub subtitle: &'a str,
    pub author: &'a str,
    /// (heading, paragraphs)
    pub chapters: &'a [(&'a str, &'a [&'a str])],
    /// The title page's band colour, RGB 0..=1.
    pub accent: [f32; 3],
}

/// Text in a PDF string literal: ASCII only (anything else becomes `?`), with `\`, `(` and `)`
/// escaped.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('(');
    for c in text.chars() {
        match c {
            '\\' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push(')');
    out
}

fn wrap(paragraph: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in paragraph.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// One page's content stream being written.
struct Page {
    ops: String,
    y: f32,
}

impl Page {
    fn new() -> Self {
        Self {
            ops: String::new(),
            y: HEIGHT - MARGIN,
        }
    }

    fn text(&mut self, font: &str, size: f32, x: f32, y: f32, text: &str) {
        self.ops.push_str(&format!(
            "BT /{font} {size} Tf {x:.1} {y:.1} Td {} Tj ET\n",
            literal(text)
        ));
    }

    fn rect(&mut self, rgb: [f32; 3], x: f32, y: f32, w: f32, h: f32) {
        self.ops.push_str(&format!(
            "q {:.3} {:.3} {:.3} rg {x:.1} {y:.1} {w:.1} {h:.1} re f Q\n",
            rgb[0], rgb[1], rgb[2]
        ));
    }
}

/// Lays the book out and writes the PDF.
pub fn render(book: &Book) -> Vec<u8> {
    let mut pages: Vec<Page> = Vec::new();

    let mut title = Page::new();
    title.rect(book.accent, 0.0, HEIGHT - 300.0, WIDTH, 300.0);
    for (i, line) in wrap(book.title, 26).iter().enumerate() {
        title.ops.push_str("1 1 1 rg\n");
        title.text("F2", 34.0, MARGIN, HEIGHT - 150.0 - 40.0 * i as f32, line);
    }
    title.ops.push_str("0 0 0 rg\n");
    title.text("F1", 16.0, MARGIN, HEIGHT - 350.0, book.subtitle);
    title.text("F1", 12.0, MARGIN, MARGIN, &format!("by {}", book.author));
    pages.push(title);

    let mut contents = Page::new();
    contents.text("F2", 20.0, MARGIN, contents.y - 20.0, "Contents");
    for (i, (heading, _)) in book.chapters.iter().enumerate() {
        let y = HEIGHT - MARGIN - 70.0 - 22.0 * i as f32;
        contents.text("F1", 13.0, MARGIN, y, &format!("{}.  {heading}", i + 1));
    }
    pages.push(contents);

    for (i, (heading, paragraphs)) in book.chapters.iter().enumerate() {
        let mut page = Page::new();
        page.text(
            "F2",
            20.0,
            MARGIN,
            page.y - 20.0,
            &format!("{}. {heading}", i + 1),
        );
        page.y -= 60.0;
        for paragraph in paragraphs.iter() {
            for line in wrap(paragraph, LINE_CHARS) {
                if page.y < MARGIN + LEADING {
                    pages.push(std::mem::replace(&mut page, Page::new()));
                }
                let y = page.y;
                page.text("F1", BODY_SIZE, MARGIN, y, &line);
                page.y -= LEADING;
            }
            page.y -= LEADING * 0.6;
        }
        pages.push(page);
    }

    let count = pages.len();
    for (i, page) in pages.iter_mut().enumerate().skip(1) {
        let label = format!("{} of {count}", i + 1);
        page.text("F1", 9.0, WIDTH / 2.0 - 12.0, MARGIN / 2.0, &label);
    }
    write(book, pages)
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).expect("writing to memory");
    z.finish().expect("writing to memory")
}

fn write(book: &Book, pages: Vec<Page>) -> Vec<u8> {
    // Objects: 1 catalog, 2 page tree, 3-4 fonts, 5 info, then (page, contents) per page.
    let first_page = 6;
    let mut objects: Vec<Vec<u8>> = Vec::new();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", first_page + 2 * i))
        .collect();
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .into_bytes(),
    );
    for font in ["Helvetica", "Helvetica-Bold"] {
        objects.push(
            format!(
                "<< /Type /Font /Subtype /Type1 /BaseFont /{font} /Encoding /WinAnsiEncoding >>"
            )
            .into_bytes(),
        );
    }
    objects.push(
        format!(
            "<< /Title {} /Author {} /Subject {} /Producer (Folio demo shop) /CreationDate (D:20261201000000Z) >>",
            literal(book.title),
            literal(book.author),
            literal(book.subtitle)
        )
        .into_bytes(),
    );
    for (i, page) in pages.iter().enumerate() {
        let contents = first_page + 2 * i + 1;
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {WIDTH} {HEIGHT}] \
                 /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {contents} 0 R >>"
            )
            .into_bytes(),
        );
        let stream = deflate(page.ops.as_bytes());
        let mut obj = format!(
            "<< /Length {} /Filter /FlateDecode >>\nstream\n",
            stream.len()
        )
        .into_bytes();
        obj.extend_from_slice(&stream);
        obj.extend_from_slice(b"\nendstream");
        objects.push(obj);
    }

    let mut out: Vec<u8> = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_book_is_a_pdf_with_one_page_per_part_and_a_correct_xref() {
        let long = "word ".repeat(2000);
        let book = Book {
            title: "A (Small) Test",
            subtitle: "Sub",
            author: "Folio",
            chapters: &[("One", &[long.as_str()]), ("Two", &["Short."])],
            accent: [0.2, 0.3, 0.4],
        };
        let pdf = render(&book);
        let text = String::from_utf8_lossy(&pdf);
        assert!(pdf.starts_with(b"%PDF-1.4"));
        assert!(
            text.contains("(A \\(Small\\) Test)"),
            "parentheses are escaped"
        );
        // Title, contents, chapter one over several pages, chapter two.
        let count: usize = text
            .split("/Count ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(count >= 5, "{count} pages");
        // Every xref entry points at the start of its object (offsets are in bytes).
        let tail = String::from_utf8(pdf[pdf.len() - 40..].to_vec()).unwrap();
        let xref_at: usize = tail
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let table = String::from_utf8(pdf[xref_at..].to_vec()).unwrap();
        assert!(table.starts_with("xref\n"));
        let entries: Vec<&str> = table
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .collect();
        assert_eq!(entries.len(), 5 + 2 * count);
        for (i, line) in entries.iter().enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            let head = format!("{} 0 obj", i + 1);
            assert!(
                pdf[offset..].starts_with(head.as_bytes()),
                "object {}",
                i + 1
            );
        }
    }
}
