//! The viewer's entry point: trunk builds this binary to Wasm; everything else is in the
//! library (`lib.rs`), where the host tests can reach it.

fn main() {
    leptos::mount::mount_to_body(frontend::app::App);
}
