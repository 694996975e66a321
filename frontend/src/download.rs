//! Download: the current view saved to disk in a chosen format as the browser streams it,
//! never a Blob built in memory. A navigation cannot send the token, so the page asks the
//! server for a link to the exact request (`POST /api/downloads`, valid for that request
//! only, for a minute) and follows it with a `download` anchor; the browser's download
//! manager writes the body as it arrives.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{DownloadLink, DownloadRequest, Format};
use wasm_bindgen::JsCast;
use web_sys::HtmlAnchorElement;

use crate::stream::{post_json, FetchError};
use crate::view_state::ViewState;

/// Asks for a link to `path` and follows it as a download.
pub async fn download(path: &str, token: &str) -> Result<(), FetchError> {
    let link: DownloadLink = post_json("/api/downloads", token, &DownloadRequest { path: path.to_owned() }).await?;
    let document = window().document().ok_or_else(|| FetchError::Network("no document".into()))?;
    let anchor: HtmlAnchorElement = document
        .create_element("a")
        .map_err(|_| FetchError::Network("cannot create a link".into()))?
        .dyn_into()
        .map_err(|_| FetchError::Network("cannot create a link".into()))?;
    anchor.set_href(&link.url);
    // The server names the file (Content-Disposition).
    anchor.set_download("");
    anchor.click();
    Ok(())
}

#[component]
pub fn DownloadButton(
    #[prop(into)] view: Signal<ViewState>,
    #[prop(into)] format: Signal<Format>,
    token: RwSignal<Option<String>>,
) -> impl IntoView {
    let problem = RwSignal::new(None::<String>);
    let start = move |_| {
        let Some(path) = view.with_untracked(|v| v.api_url(format.get_untracked())) else {
            problem.set(Some("Pick a table, view or saved query first.".into()));
            return;
        };
        let Some(token) = token.get_untracked() else {
            problem.set(Some("A token is needed to download.".into()));
            return;
        };
        problem.set(None);
        spawn_local(async move {
            if let Err(error) = download(&path, &token).await {
                problem.set(Some(format!("Download failed: {error}")));
            }
        });
    };
    view! {
        <button type="button" data-testid="download" on:click=start
            title="Save this view in the chosen format; the browser writes it to disk as it streams">
            "Download"
        </button>
        <span class="copied" role="status">{move || problem.get()}</span>
    }
}
