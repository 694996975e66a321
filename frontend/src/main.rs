//! The viewer's entry point: trunk builds this binary to Wasm; everything else is in the
//! library (`lib.rs`), where the host tests can reach it.

fn main() {
    // The module's memory, for the viewer benchmark's "JS heap plus Wasm memory" figure
    // (`performance.memory` counts neither the Wasm memory nor other ArrayBuffers).
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(&window, &"__rowstreamWasmMemory".into(), &wasm_bindgen::memory());
    }
    leptos::mount::mount_to_body(frontend::app::App);
}
