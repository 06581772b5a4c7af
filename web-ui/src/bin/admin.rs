//! The admin bundle (admin.html, served for `/admin/...`).

fn main() {
    web_ui::start_admin();
}
