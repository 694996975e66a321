//! The API token: taken from the page's `#token=…` fragment (then removed from the address
//! bar, so it is not bookmarked or shared by accident), kept in `sessionStorage` (gone when
//! the tab closes), and sent as `Authorization: Bearer …`. [`TokenPrompt`] asks for one when
//! there is none or the server rejects it.

use leptos::prelude::*;

const STORAGE_KEY: &str = "rowstream.token";

/// The `token` parameter of a fragment such as `#token=abc` or `#x=1&token=abc`.
pub fn token_from_fragment(fragment: &str) -> Option<String> {
    fragment
        .trim_start_matches('#')
        .split('&')
        .find_map(|part| part.strip_prefix("token="))
        .map(|value| js_decode(value).trim().to_owned())
        .filter(|token| !token.is_empty())
}

/// The fragment without its `token` parameter (`""` when nothing else is left).
pub fn fragment_without_token(fragment: &str) -> String {
    let rest: Vec<&str> = fragment
        .trim_start_matches('#')
        .split('&')
        .filter(|part| !part.is_empty() && !part.starts_with("token="))
        .collect();
    if rest.is_empty() {
        String::new()
    } else {
        format!("#{}", rest.join("&"))
    }
}

/// Percent-decoding (JWTs need none, but a pasted link may be encoded anyway).
fn js_decode(value: &str) -> String {
    #[cfg(target_arch = "wasm32")]
    if let Some(decoded) = js_sys::decode_uri_component(value).ok().and_then(|s| s.as_string()) {
        return decoded;
    }
    value.to_owned()
}

fn session_storage() -> Option<web_sys::Storage> {
    window().session_storage().ok().flatten()
}

/// The token to use at start-up: the fragment's (saved, then removed from the URL), else
/// the one this tab saved before.
pub fn load() -> Option<String> {
    let location = window().location();
    let fragment = location.hash().unwrap_or_default();
    if let Some(token) = token_from_fragment(&fragment) {
        save(&token);
        let url = format!(
            "{}{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default(),
            fragment_without_token(&fragment)
        );
        // If this fails the token merely stays visible in the address bar.
        if let Ok(history) = window().history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
        return Some(token);
    }
    session_storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten()).filter(|t| !t.is_empty())
}

/// Keeps the token for this tab. Storage can be unavailable (private modes, sandboxing):
/// the token then lasts until reload, which is still usable.
pub fn save(token: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.set_item(STORAGE_KEY, token);
    }
}

/// Shown when `prompt` holds a reason. Saving stores the token and hides the prompt.
#[component]
pub fn TokenPrompt(token: RwSignal<Option<String>>, prompt: RwSignal<Option<String>>) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<&'static str>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = draft.get_untracked().trim().to_owned();
        if value.is_empty() {
            problem.set(Some("Paste a token first."));
            return;
        }
        save(&value);
        token.set(Some(value));
        draft.set(String::new());
        problem.set(None);
        prompt.set(None);
    };
    view! {
        <Show when=move || prompt.with(Option::is_some)>
            <div class="overlay">
                <form class="token-prompt" data-testid="token-prompt" on:submit=submit>
                    <h2>"API token needed"</h2>
                    <p class="reason">{move || prompt.get().unwrap_or_default()}</p>
                    <p class="hint">
                        "Print one with " <code>"rowstream token"</code>
                        ", or open this page as " <code>"/#token=…"</code> "."
                    </p>
                    <div class="token-row">
                        <input
                            data-testid="token-input"
                            type="password"
                            autocomplete="off"
                            spellcheck="false"
                            placeholder="eyJhbGciOi…"
                            aria-label="API token"
                            prop:value=move || draft.get()
                            on:input=move |ev| draft.set(event_target_value(&ev))
                            on:change=move |ev| draft.set(event_target_value(&ev))
                        />
                        <button data-testid="token-save" type="submit" class="primary">"Save"</button>
                        <Show when=move || token.with(Option::is_some)>
                            <button type="button" on:click=move |_| prompt.set(None)>"Cancel"</button>
                        </Show>
                    </div>
                    <p class="problem">{move || problem.get()}</p>
                </form>
            </div>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_token_parameter() {
        assert_eq!(token_from_fragment("#token=abc.def"), Some("abc.def".into()));
        assert_eq!(token_from_fragment("#x=1&token=t"), Some("t".into()));
        assert_eq!(token_from_fragment("#token="), None);
        assert_eq!(token_from_fragment(""), None);
        assert_eq!(token_from_fragment("#mytoken=x"), None);
    }

    #[test]
    fn removes_only_the_token() {
        assert_eq!(fragment_without_token("#token=abc"), "");
        assert_eq!(fragment_without_token("#x=1&token=abc&y"), "#x=1&y");
        assert_eq!(fragment_without_token(""), "");
    }
}
