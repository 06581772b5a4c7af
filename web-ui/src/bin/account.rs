//! The account bundle (library, orders, the page Stripe returns to), loaded by index.html's
//! start script on those paths.

fn main() {
    web_ui::start_account();
}
