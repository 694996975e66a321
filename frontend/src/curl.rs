//! "Copy as curl": the exact request of the current view, in a chosen format (the download's
//! too), as a shell command. The token is not in it: the command reads it from `$ROWSTREAM_TOKEN`, so a
//! pasted command never leaks it (`rowstream token` prints one).

use leptos::prelude::*;
use shared::Format;
use wasm_bindgen::{JsCast, JsValue};

use crate::view_state::ViewState;

/// The command for `api_url` (path and query, as [`ViewState::api_url`] writes it: every
/// character that is special to a shell inside single quotes is percent-encoded).
pub fn curl_command(origin: &str, api_url: &str) -> String {
    format!("curl -N -H \"Authorization: Bearer $ROWSTREAM_TOKEN\" '{origin}{api_url}'")
}

/// `navigator.clipboard.writeText(text)`; false when the page may not write the clipboard.
async fn copy_to_clipboard(text: &str) -> bool {
    let Some(window) = web_sys::window() else { return false };
    let navigator = js_sys::Reflect::get(&window, &"navigator".into()).unwrap_or(JsValue::UNDEFINED);
    let clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into()).ok().filter(|c| !c.is_undefined());
    let Some(clipboard) = clipboard else { return false };
    let write =
        js_sys::Reflect::get(&clipboard, &"writeText".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let Some(write) = write else { return false };
    match write.call1(&clipboard, &JsValue::from_str(text)) {
        Ok(promise) => match promise.dyn_into::<js_sys::Promise>() {
            Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise).await.is_ok(),
            Err(_) => false,
        },
        Err(_) => false,
    }
}

#[component]
pub fn CurlLine(
    #[prop(into)] view: Signal<ViewState>,
    /// The answer's format, for the command and the download.
    format: RwSignal<Format>,
    /// Shown after the copy button (the download button).
    children: Children,
) -> impl IntoView {
    let copied = RwSignal::new(None::<&'static str>);
    let command = move || {
        let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
        view.with(|v| v.api_url(format.get())).map(|url| curl_command(&origin, &url)).unwrap_or_default()
    };
    let copy = move |_| {
        let text = command();
        leptos::task::spawn_local(async move {
            let done = copy_to_clipboard(&text).await;
            copied.set(Some(if done { "Copied." } else { "Select the command to copy it." }));
        });
    };
    view! {
        <div class="curl">
            <select aria-label="Format of the command's answer and of the download" data-testid="curl-format"
                on:change=move |ev| if let Some(f) = Format::parse(&event_target_value(&ev)) { format.set(f) }>
                {Format::ALL.map(|f| view! { <option value=f.as_str() selected=f == Format::Ndjson>{f.as_str()}</option> }).to_vec()}
            </select>
            <button type="button" data-testid="copy-curl" on:click=copy>"Copy as curl"</button>
            {children()}
            <code data-testid="curl-command" class="command">{command}</code>
            <span class="copied" role="status">{move || copied.get()}</span>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_carries_no_token_and_is_shell_safe() {
        let view = ViewState::from_page_query("relation=it's&note=eq.O'Brien $HOME");
        let url = view.api_url(Format::Csv).unwrap();
        let command = curl_command("http://127.0.0.1:8080", &url);
        assert_eq!(
            command,
            "curl -N -H \"Authorization: Bearer $ROWSTREAM_TOKEN\" \
             'http://127.0.0.1:8080/api/tables/it%27s/rows?mode=stream&format=csv&note=eq.O%27Brien+%24HOME'"
        );
    }
}
