//! The shop bundle (index.html): what every visitor downloads.

fn main() {
    web_ui::start_shop();
}
