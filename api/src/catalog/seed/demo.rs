//! The demo shop `cargo xtask run` opens with (`folio demo`): six books whose PDFs and covers
//! are made here, two free, three priced in different currencies and one at a price the buyer
//! chooses. They are ordinary products: an admin edits or archives them like any other.

use super::{cover, pdf};
use crate::catalog::repo::{self, ProductRow};
use crate::db::{now, DbConnection};
use crate::storage::{sniff, Storage, StoredObject};
use shared_types::{Currency, Price, ProductId, ProductStatus, Slug};

struct Item {
    title: &'static str,
    subtitle: &'static str,
    description: &'static str,
    /// Decimal price as an admin types it; "0" is free. With `suggested`, the minimum.
    price: &'static str,
    /// Pay what you want, proposing this amount.
    suggested: Option<&'static str>,
    currency: Currency,
    chapters: &'static [(&'static str, &'static [&'static str])],
    background: cover::Rgb,
    shape: cover::Rgb,
}

const ITEMS: &[Item] = &[
    Item {
        title: "The Sourdough Field Guide",
        subtitle: "Bread from flour, water, salt and patience",
        description: "Everything you need to keep a starter alive and bake a loaf you are proud of: feeding schedules, hydration, shaping and a bake-day timetable.\n\nTen pages, printable, with a troubleshooting chapter for flat loaves.",
        price: "12.00",
        suggested: None,
        currency: Currency::Usd,
        chapters: &[
            ("Your starter", &[
                "A starter is a culture of wild yeast and lactic acid bacteria living in a paste of flour and water. Feed it equal weights of flour and water once a day at room temperature and it will double within six to eight hours of each feeding.",
                "Keep it in a glass jar with a loose lid, mark the level with a rubber band after feeding, and you will see at a glance when it has peaked. A starter that doubles reliably is ready to bake with.",
            ]),
            ("Flour and water", &[
                "Strong white flour gives an open crumb; a fifth of wholemeal adds flavour and feeds the starter. Water should be cool in summer and warm in winter so that the dough finishes mixing at about 25 degrees.",
                "Weigh everything. Cups hide differences of twenty percent, and bread is sensitive to far less.",
            ]),
            ("Hydration", &[
                "Hydration is the weight of water divided by the weight of flour. Seventy percent is a forgiving place to start: the dough is soft but holds its shape. Raise it by two percent at a time once shaping feels easy.",
            ]),
            ("Shaping", &[
                "Pre-shape the dough into a loose round and let it rest for twenty minutes. Then fold the sides into the middle, roll it towards you and build tension on the counter until the surface is smooth and taut.",
                "A well shaped loaf keeps its height in the oven. A slack one spreads, however good the fermentation was.",
            ]),
            ("Bake day", &[
                "Preheat a lidded pot at 250 degrees for forty-five minutes. Score the loaf, bake it covered for twenty minutes, then uncovered at 230 degrees for another twenty to twenty-five, until the crust is deep brown.",
                "Let it cool for an hour before cutting. The crumb is still setting, and cutting early makes it gummy.",
            ]),
        ],
        background: [122, 74, 38],
        shape: [196, 140, 82],
    },
    Item {
        title: "Rust for Shopkeepers",
        subtitle: "A short guide to the language this shop is written in",
        description: "A free introduction to Rust for people who run things: ownership explained with receipts, errors as values, and why a compiler that says no is a good colleague.",
        price: "0",
        suggested: None,
        currency: Currency::Usd,
        chapters: &[
            ("Why Rust", &[
                "Rust is a programming language that catches whole families of mistakes before a program ever runs. Memory is freed exactly once, data shared between threads cannot be changed by two of them at the same time, and a missing case in a match is a compile error.",
            ]),
            ("Ownership", &[
                "Every value has one owner. Hand a value to a function and it is the function's now, like a receipt you give to the accountant. Lend it instead with a reference and you get it back when the borrow ends.",
                "The rules sound strict, and they are. They are also why a Rust shop does not crash on a Saturday night.",
            ]),
            ("Errors are values", &[
                "A function that can fail returns a Result: either the value you wanted or an error that says why not. The question mark operator passes an error up to the caller, so the happy path stays readable and no failure is silently ignored.",
            ]),
            ("Where next", &[
                "Read the Rust book, write a small command line tool, and then read the code of a web service you use. This shop is one: its source is open.",
            ]),
        ],
        background: [47, 93, 80],
        shape: [86, 140, 122],
    },
    Item {
        title: "Watercolour Basics",
        subtitle: "Washes, glazes and the courage to leave white paper",
        description: "A workbook of twelve exercises for the first month with watercolour, from flat washes to a finished landscape.\n\nPrint the exercise pages on watercolour paper and paint straight onto them.",
        price: "9.50",
        suggested: None,
        currency: Currency::Eur,
        chapters: &[
            ("Materials", &[
                "Three tubes are enough to start: a warm yellow, a cool red and a blue. Add a round brush with a fine point, paper of at least 300 grams per square metre, and two jars of water, one for rinsing and one kept clean.",
            ]),
            ("Flat and graded washes", &[
                "Tilt the board slightly, load the brush fully and pull a bead of paint across the top of the rectangle. Pick up the bead with each new stroke. For a graded wash, add a brushful of water to the mix before every stroke.",
            ]),
            ("Glazing", &[
                "A glaze is a transparent layer laid over a dry one. Wait until the shine has gone from the paper, then paint a single confident stroke; going back into a glaze lifts the layer beneath it.",
            ]),
            ("Leaving the white", &[
                "Watercolour has no white paint worth the name. Plan the lightest areas first and paint around them: the paper is your light.",
            ]),
        ],
        background: [58, 96, 150],
        shape: [130, 170, 214],
    },
    Item {
        title: "Walks Around the Lake District",
        subtitle: "Eight routes from lake shore to fell top",
        description: "Eight day walks with distances, ascent, where to park and where to eat afterwards, from a gentle lake circuit to a ridge over three summits.",
        price: "2.00",
        suggested: Some("4.99"),
        currency: Currency::Gbp,
        chapters: &[
            ("Before you go", &[
                "Weather on the fells changes quickly. Carry a waterproof, a warm layer, food, water, a map and a compass, and tell someone where you are going. A phone is a help, not a map.",
            ]),
            ("Buttermere circuit", &[
                "Six kilometres, almost level, about two hours. Start from the village car park, walk the western shore through the woods and return along the quieter eastern path, through the short tunnel under the crag.",
            ]),
            ("Catbells", &[
                "Five kilometres and 400 metres of ascent. A steep start from Hawes End gives way to a rocky ridge with views down to Derwentwater on one side and the Newlands valley on the other.",
            ]),
            ("Helvellyn by Striding Edge", &[
                "Fourteen kilometres with 950 metres of ascent and an exposed scramble. Only in good weather and with a head for heights; in winter it is mountaineering, not walking.",
            ]),
        ],
        background: [70, 110, 60],
        shape: [150, 180, 110],
    },
    Item {
        title: "A Year in the Vegetable Garden",
        subtitle: "What to sow, plant and pick, month by month",
        description: "A free month-by-month planner for a small vegetable plot, with sowing dates, a rotation plan and a page of notes for each month.",
        price: "0",
        suggested: None,
        currency: Currency::Usd,
        chapters: &[
            ("Winter", &[
                "Order seed, clean pots, and spread compost on empty beds so the worms can work it in before spring. Chit early potatoes on a cool windowsill from late January.",
            ]),
            ("Spring", &[
                "Sow peas, broad beans, lettuce and radishes outside once the soil is workable. Start tomatoes and peppers indoors; harden them off for a fortnight before planting out after the last frost.",
            ]),
            ("Summer", &[
                "Water deeply and less often, in the morning. Pick beans and courgettes every couple of days: the more you pick, the more the plants make.",
            ]),
            ("Autumn", &[
                "Lift potatoes and onions and let them dry before storing. Sow green manure on beds that would otherwise stand bare through the winter.",
            ]),
        ],
        background: [150, 86, 40],
        shape: [222, 170, 90],
    },
    Item {
        title: "Typesetting by Hand",
        subtitle: "Metal type, the composing stick and the letterpress",
        description: "A practical introduction to setting metal type by hand and printing it on a small platen press, with a glossary of the trade's words and a setting exercise.",
        price: "24.00",
        suggested: None,
        currency: Currency::Cad,
        chapters: &[
            ("The case", &[
                "Type is stored in a wooden case divided into compartments, one for each letter. The layout is not alphabetical: the most common letters sit nearest the compositor's hand, which is why e has the largest box.",
            ]),
            ("The composing stick", &[
                "Letters are set upside down and from left to right in a composing stick held in the left hand. Spaces of different widths are added until each line fits the measure tightly; this is called justifying.",
            ]),
            ("Locking up", &[
                "The set lines are tied with string, moved to the press bed and surrounded by furniture, blocks of wood or metal that fill the chase. Quoins are tightened until the forme can be lifted without a letter falling out.",
            ]),
            ("Printing", &[
                "Ink the disc, make ready with packing until the impression is even, and print a proof. Correct, reprint, and only then feed the good paper.",
            ]),
        ],
        background: [40, 40, 48],
        shape: [180, 60, 60],
    },
];

fn cover_png(item: &Item) -> Vec<u8> {
    let (w, h) = (480i64, 640i64);
    let mut canvas = cover::Canvas::new(w as usize, h as usize, item.background);
    canvas.circle(w - 90, 150, 170, item.shape);
    canvas.circle(70, 60, 60, item.shape);
    canvas.rect(0, h - 70, w, 70, [250, 248, 242]);
    canvas.text(28, h - 50, 4, "FOLIO DEMO", item.background);
    let lines = cover::lines(item.title, 12);
    let scale = 6;
    let top = h - 100 - lines.len() as i64 * 9 * scale;
    for (i, line) in lines.iter().enumerate() {
        canvas.text(28, top + i as i64 * 9 * scale, scale, line, [255, 255, 255]);
    }
    canvas.png()
}

fn book_pdf(item: &Item) -> Vec<u8> {
    let accent = item.background.map(|c| c as f32 / 255.0);
    pdf::render(&pdf::Book {
        title: item.title,
        subtitle: item.subtitle,
        author: "the Folio demo shop",
        chapters: item.chapters,
        accent,
    })
}

async fn store(
    storage: &Storage,
    bytes: Vec<u8>,
    purpose: sniff::Purpose,
) -> anyhow::Result<StoredObject> {
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))]);
    storage
        .put_stream(chunks, u64::MAX, purpose, None)
        .await
        .map_err(|e| anyhow::anyhow!("storing a demo file: {e:?}"))
}

/// A demo product with its one file.
pub type DemoItem = (
    ProductRow,
    crate::files::repo::FileRow,
    crate::files::repo::VersionRow,
);

/// The demo products, their files stored: ready to insert.
pub async fn build(storage: &Storage) -> anyhow::Result<Vec<DemoItem>> {
    let base = now();
    let mut rows = Vec::new();
    for (i, item) in ITEMS.iter().enumerate() {
        let slug = Slug::from_title(item.title).map_err(|e| anyhow::anyhow!("{e}"))?;
        let price = Price::parse(item.price, item.currency).map_err(|e| anyhow::anyhow!("{e}"))?;
        let file = store(storage, book_pdf(item), sniff::Purpose::File).await?;
        let preview = store(storage, cover_png(item), sniff::Purpose::Preview).await?;
        // Listed in the order above (the catalog shows the newest first).
        let at = base - chrono::TimeDelta::seconds(i as i64);
        let id = ProductId::generate();
        let (file_row, version) = crate::files::repo::new_file(
            &id,
            0,
            crate::catalog::safe_file_name(
                Some(&format!("{slug}.pdf")),
                slug.as_ref(),
                file.extension,
            ),
            &file,
            at,
        );
        let row = ProductRow {
            id,
            slug: slug.into_inner(),
            title: item.title.to_owned(),
            description: item.description.to_owned(),
            price_cents: price.cents(),
            currency: price.currency(),
            status: ProductStatus::Published,
            preview_key: Some(preview.key),
            preview_content_type: Some(preview.content_type.to_owned()),
            created_at: at,
            updated_at: at,
            download_limit: None,
            access_days: None,
            stamp_pdfs: false,
            pay_what_you_want: item.suggested.is_some(),
            suggested_price_cents: item
                .suggested
                .map(|s| Price::parse(s, item.currency).map(Price::cents))
                .transpose()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        };
        rows.push((row, file_row, version));
    }
    Ok(rows)
}

/// Inserts `rows` if the catalog is empty; how many were inserted.
pub fn insert_if_empty(conn: &mut DbConnection, rows: &[DemoItem]) -> anyhow::Result<usize> {
    use diesel::Connection;
    let inserted = conn.transaction(|conn| {
        if repo::count(conn)? > 0 {
            return diesel::QueryResult::Ok(0);
        }
        for (row, file, version) in rows {
            repo::insert(conn, row)?;
            crate::files::repo::insert(
                conn,
                std::slice::from_ref(file),
                std::slice::from_ref(version),
            )?;
        }
        Ok(rows.len())
    })?;
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_has_six_items_two_of_them_free_in_several_currencies() {
        assert_eq!(ITEMS.len(), 6);
        let free = ITEMS.iter().filter(|i| i.price == "0").count();
        assert_eq!(free, 2);
        let mut currencies: Vec<&str> = ITEMS.iter().map(|i| i.currency.code()).collect();
        currencies.sort();
        currencies.dedup();
        assert!(currencies.len() >= 3, "{currencies:?}");
        for item in ITEMS {
            assert!(
                Price::parse(item.price, item.currency).is_ok(),
                "{}",
                item.title
            );
            let pdf = book_pdf(item);
            assert!(pdf.starts_with(b"%PDF-"));
            assert_eq!(sniff::detect(&cover_png(item)), Some(sniff::Kind::Png));
        }
    }
}
