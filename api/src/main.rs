//! `folio`: serve, migrate, create an admin, print the OpenAPI document or the schema.

use std::io::Read;
use std::process::ExitCode;

use folio_api::config::Settings;
use shared_types::{Email, Password};

const USAGE: &str = "usage:
  folio serve                    run the server (applies migrations first)
  folio migrate                  apply pending database migrations
  folio admin create --email E   create or promote an admin; the password is read from stdin
  folio openapi                  print the OpenAPI document (YAML)
  folio settings                 print every setting, its default and meaning (Markdown)
  folio print-schema             print api/src/schema.rs for the configured database
  folio demo                     fill an empty catalog with the demo shop (six books)
  folio reconcile --since D      compare Stripe's sessions, charges and refunds since day D
                                 (YYYY-MM-DD) with the orders, repair what webhooks missed,
                                 report the rest; exit 1 when the ledgers do not agree
  folio seed --products N --file F [--price-cents C]
                                 add N published products sharing file F (demo data, benchmarks)
  folio seed --orders N          add N orders over two years for the first customer and the
                                 products there are (benchmarks of the dashboard and exports)";

fn main() -> ExitCode {
    fix_malloc_mmap_threshold();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["openapi"] => {
            print!("{}", folio_api::openapi::yaml());
            return ExitCode::SUCCESS;
        }
        ["settings"] => {
            print!("{}", folio_api::config::markdown_table());
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(problems) => {
            eprintln!("folio: the settings have {} problem(s):", problems.len());
            for p in problems {
                eprintln!("  - {p}");
            }
            eprintln!("(`folio settings` lists every setting with its default)");
            return ExitCode::from(2);
        }
    };
    folio_api::telemetry::init(settings.log_format);
    let result = match args.as_slice() {
        [] | ["serve"] => run_server(settings),
        ["migrate"] => migrate(&settings),
        ["admin", "create", "--email", email] => create_admin(&settings, email),
        ["print-schema"] => print_schema(&settings),
        ["demo"] => demo(&settings),
        ["reconcile", "--since", since] => reconcile(settings, since),
        ["seed", "--products", n, "--file", file] => seed(&settings, n, file, "0"),
        ["seed", "--orders", n] => seed_orders(&settings, n),
        ["seed", "--products", n, "--file", file, "--price-cents", cents] => {
            seed(&settings, n, file, cents)
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("folio: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn ensure_sqlite_dir(settings: &Settings) -> anyhow::Result<()> {
    if let folio_api::config::DatabaseUrl::Sqlite(path) = &settings.database_url {
        if let Some(parent) = std::path::Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent)?;
        }
    }
    Ok(())
}

fn run_server(settings: Settings) -> anyhow::Result<()> {
    ensure_sqlite_dir(&settings)?;
    actix_web::rt::System::new().block_on(folio_api::serve(settings))
}

fn open_db(settings: &Settings) -> anyhow::Result<folio_api::db::Db> {
    ensure_sqlite_dir(settings)?;
    let db = folio_api::db::Db::new(&settings.database_url, 1);
    folio_api::migrate(&db)?;
    Ok(db)
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    ensure_sqlite_dir(settings)?;
    let db = folio_api::db::Db::new(&settings.database_url, 1);
    let applied = folio_api::migrate(&db)?;
    println!("applied {} migration(s)", applied.len());
    Ok(())
}

fn create_admin(settings: &Settings, email: &str) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let password = Password::parse(input.trim_end_matches(['\r', '\n']))
        .map_err(|e| anyhow::anyhow!("password (stdin): {e}"))?;
    let db = open_db(settings)?;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let created = folio_api::auth::create_admin(&mut conn, &email, &password)?;
    if created {
        println!("created admin {email}");
    } else {
        println!("{email} existed: it is an admin now, with the new password");
    }
    Ok(())
}

fn print_schema(settings: &Settings) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    print!("{}", folio_api::db::introspect::render_schema(&mut conn)?);
    Ok(())
}

fn reconcile(settings: Settings, since: &str) -> anyhow::Result<()> {
    ensure_sqlite_dir(&settings)?;
    let (agree, report) =
        actix_web::rt::System::new().block_on(folio_api::reconcile_command(settings, since))?;
    print!("{report}");
    anyhow::ensure!(agree, "the ledgers differ (see above)");
    Ok(())
}

fn seed_orders(settings: &Settings, count: &str) -> anyhow::Result<()> {
    let count: i64 = count
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| anyhow::anyhow!("--orders takes a number above 0"))?;
    let db = open_db(settings)?;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let added = folio_api::reports::repo::seed_orders(&mut conn, count)?;
    anyhow::ensure!(
        added > 0,
        "no orders added: the shop needs a product and a customer account first"
    );
    println!("added {added} orders");
    Ok(())
}

fn demo(settings: &Settings) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    if folio_api::catalog::repo::count(&mut conn)? > 0 {
        println!("the catalog is not empty: no demo products added");
        return Ok(());
    }
    let storage = folio_api::storage::Storage::open(&settings.storage)?;
    let rows = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(folio_api::catalog::seed::demo::build(&storage))?;
    let inserted = folio_api::catalog::seed::demo::insert_if_empty(&mut conn, &rows)?;
    println!("added {inserted} demo products (edit or archive them as an admin)");
    if folio_api::membership::seed_demo_plan(&mut conn)? {
        println!("added the demo membership plan “All access” (edit it under Admin → Plans)");
    }
    Ok(())
}

fn seed(settings: &Settings, count: &str, file: &str, price_cents: &str) -> anyhow::Result<()> {
    let count: usize = count
        .parse()
        .map_err(|_| anyhow::anyhow!("--products takes a number"))?;
    let price_cents: i64 = price_cents
        .parse()
        .map_err(|_| anyhow::anyhow!("--price-cents takes a number"))?;
    shared_types::Price::from_cents(price_cents, shared_types::Currency::Usd)
        .map_err(|e| anyhow::anyhow!("--price-cents: {e}"))?;
    let bytes = std::fs::read(file)?;
    let storage = folio_api::storage::Storage::open(&settings.storage)?;
    let stored = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let chunks = bytes
                .chunks(64 * 1024)
                .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)));
            storage
                .put_stream(
                    futures_util::stream::iter(chunks),
                    u64::MAX,
                    folio_api::storage::Purpose::File,
                    std::path::Path::new(file)
                        .file_name()
                        .and_then(|n| n.to_str()),
                )
                .await
        })
        .map_err(|e| anyhow::anyhow!("storing {file}: {e:?}"))?;
    let db = open_db(settings)?;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let inserted = folio_api::catalog::seed(&mut conn, count, &stored, price_cents)?;
    println!("added {inserted} products sharing {}", stored.key);
    Ok(())
}

/// glibc raises its mmap threshold to the size of the largest block freed so far (up to 32 MiB).
/// One argon2 hash frees 19 MiB: from then on every large buffer (download chunks, response
/// bodies) came from per-thread arenas that keep freed memory, and RSS grew to hundreds of MB
/// under logins and downloads (`cargo xtask bench`, `cargo xtask soak`). A fixed threshold keeps
/// blocks of 4 MiB and more (only argon2's) in their own mappings, returned to the OS when freed.
fn fix_malloc_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}
