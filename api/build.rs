//! With the `embed-web-ui` feature, writes the list of the built web UI's files
//! (`include_bytes!` of each) for `web_ui.rs`; without it, an empty list. The UI is read from
//! `FOLIO_EMBED_WEB_DIST`, else `web-ui/dist` in the workspace (`cargo xtask dist` builds it
//! first).

use std::path::{Path, PathBuf};

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-env-changed=FOLIO_EMBED_WEB_DIST");
    let mut code = String::from("pub static FILES: &[(&str, &[u8])] = &[\n");
    if std::env::var_os("CARGO_FEATURE_EMBED_WEB_UI").is_some() {
        let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
        let dist = std::env::var_os("FOLIO_EMBED_WEB_DIST")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest.join("../web-ui/dist"));
        let dist = dist.canonicalize().unwrap_or_else(|e| {
            panic!(
                "embed-web-ui: the web UI is not built at {} ({e}): run `cargo xtask dist`",
                dist.display()
            )
        });
        assert!(
            dist.join("index.html").is_file(),
            "embed-web-ui: {} has no index.html: run `cargo xtask dist`",
            dist.display()
        );
        println!("cargo:rerun-if-changed={}", dist.display());
        let mut files = Vec::new();
        walk(&dist, &dist, &mut files);
        files.sort();
        for (name, path) in files {
            println!("cargo:rerun-if-changed={}", path.display());
            code.push_str(&format!(
                "    ({name:?}, include_bytes!({:?})),\n",
                path.display().to_string()
            ));
        }
    }
    code.push_str("];\n");
    std::fs::write(out.join("web_ui_embedded.rs"), code).expect("writing OUT_DIR");
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).expect("reading the web UI folder") {
        let entry = entry.expect("reading the web UI folder");
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, files);
        } else {
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            files.push((name, path));
        }
    }
}
