//! The browser side of a request: `fetch` with an `AbortSignal`, then the body read chunk by
//! chunk through its `ReadableStream` reader. Chunks are handed over as the browser gives
//! them (`Uint8Array`s of up to tens of kilobytes); decoding is [`crate::decode`]'s job.
//!
//! Also the small promise helpers the run loop awaits: the next animation frame, and a
//! yield to the event loop.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect, Uint8Array};
use shared::ErrorBody;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, Headers, MessageChannel, ReadableStreamDefaultReader, ReadableStreamReadResult, RequestCache,
    RequestInit, Response,
};

/// A failed request or read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The `AbortSignal` fired (the user pressed Cancel).
    #[error("cancelled")]
    Aborted,
    #[error("{0}")]
    Network(String),
    /// An error status; `body` is the server's JSON error, if it sent one.
    #[error("HTTP {status}: {}", describe(.body.as_ref()))]
    Status { status: u16, body: Option<ErrorBody> },
}

fn describe(body: Option<&ErrorBody>) -> String {
    body.map_or_else(
        || "the server sent no error body".to_owned(),
        |b| format!("{}: {}", b.error.code.as_str(), b.error.message),
    )
}

impl FetchError {
    /// Sorts a rejected promise: aborts are `DOMException`s named `AbortError`.
    fn from_js(error: JsValue) -> Self {
        let name = Reflect::get(&error, &"name".into()).ok().and_then(|n| n.as_string());
        if name.as_deref() == Some("AbortError") {
            return FetchError::Aborted;
        }
        let message = Reflect::get(&error, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .filter(|m| !m.is_empty())
            .or_else(|| error.as_string())
            .unwrap_or_else(|| "unknown error".to_owned());
        FetchError::Network(match name {
            Some(name) => format!("{name}: {message}"),
            None => message,
        })
    }

    pub fn is_unauthorized(&self) -> bool {
        matches!(self, FetchError::Status { status: 401, .. })
    }
}

/// A response body being read.
pub struct BodyReader {
    reader: ReadableStreamDefaultReader,
}

/// A request on its way: `fetch` has been called, the response is still to come.
pub struct Pending(Promise);

/// Sends `GET url` with the token at once: the request leaves before the page spends any
/// time re-rendering for the new run.
pub fn send(url: &str, token: &str, signal: &AbortSignal) -> Result<Pending, FetchError> {
    request(url, token, "application/x-ndjson", None, Some(signal))
}

/// Sends a request with the token: `GET`, or `POST` with a JSON `body`.
fn request(
    url: &str,
    token: &str,
    accept: &str,
    body: Option<&str>,
    signal: Option<&AbortSignal>,
) -> Result<Pending, FetchError> {
    let headers = Headers::new().map_err(FetchError::from_js)?;
    headers.set("Authorization", &format!("Bearer {token}")).map_err(FetchError::from_js)?;
    headers.set("Accept", accept).map_err(FetchError::from_js)?;
    let init = RequestInit::new();
    match body {
        Some(body) => {
            headers.set("Content-Type", "application/json").map_err(FetchError::from_js)?;
            init.set_method("POST");
            init.set_body(&JsValue::from_str(body));
        }
        None => init.set_method("GET"),
    }
    init.set_headers(&headers);
    init.set_signal(signal);
    init.set_cache(RequestCache::NoStore);
    let window = web_sys::window().ok_or_else(|| FetchError::Network("no window".into()))?;
    Ok(Pending(window.fetch_with_str_and_init(url, &init)))
}

/// `GET url` with the token, its JSON body read as `T` (the schema endpoints).
pub async fn get_json<T: serde::de::DeserializeOwned>(url: &str, token: &str) -> Result<T, FetchError> {
    request(url, token, "application/json", None, None)?.json(url).await
}

/// `POST url` with `body` as JSON and the token; the JSON answer read as `T`.
pub async fn post_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    url: &str,
    token: &str,
    body: &B,
) -> Result<T, FetchError> {
    let text =
        serde_json::to_string(body).map_err(|e| FetchError::Network(format!("cannot encode the request: {e}")))?;
    request(url, token, "application/json", Some(&text), None)?.json(url).await
}

impl Pending {
    /// Resolves when the status line and headers are in; an error status is an error,
    /// with the server's JSON error body when it sent one.
    pub async fn open(self) -> Result<BodyReader, FetchError> {
        let response = self.response().await?;
        let stream = response.body().ok_or_else(|| FetchError::Network("the response has no body".into()))?;
        let reader = stream
            .get_reader()
            .dyn_into::<ReadableStreamDefaultReader>()
            .map_err(|_| FetchError::Network("the body has no default reader".into()))?;
        Ok(BodyReader { reader })
    }

    /// The whole answer read as JSON (`url` names it in the error).
    async fn json<T: serde::de::DeserializeOwned>(self, url: &str) -> Result<T, FetchError> {
        let response = self.response().await?;
        let promise = response.array_buffer().map_err(FetchError::from_js)?;
        let buffer = JsFuture::from(promise).await.map_err(FetchError::from_js)?;
        serde_json::from_slice(&Uint8Array::new(&buffer).to_vec())
            .map_err(|e| FetchError::Network(format!("{url} answered with unexpected JSON: {e}")))
    }

    /// The response once its status line and headers are in; an error status is an error.
    async fn response(self) -> Result<Response, FetchError> {
        let response: Response = JsFuture::from(self.0)
            .await
            .map_err(FetchError::from_js)?
            .dyn_into()
            .map_err(|_| FetchError::Network("fetch did not return a Response".into()))?;
        if !response.ok() {
            let status = response.status();
            let body = match response.array_buffer() {
                Ok(promise) => JsFuture::from(promise).await.ok(),
                Err(_) => None,
            };
            let body = body.and_then(|buf| serde_json::from_slice(&Uint8Array::new(&buf).to_vec()).ok());
            return Err(FetchError::Status { status, body });
        }
        Ok(response)
    }
}

impl BodyReader {
    /// The next chunk, or `None` at the end of the body. An aborted or broken connection
    /// is an error, never a quiet end.
    pub async fn next_chunk(&mut self) -> Result<Option<Uint8Array>, FetchError> {
        let result: ReadableStreamReadResult =
            JsFuture::from(self.reader.read()).await.map_err(FetchError::from_js)?.unchecked_into();
        if result.get_done().unwrap_or(false) {
            return Ok(None);
        }
        result
            .get_value()
            .dyn_into::<Uint8Array>()
            .map(Some)
            .map_err(|_| FetchError::Network("the body yielded something other than bytes".into()))
    }
}

/// Resolves at the next animation frame. In a hidden page, where frames stop, it resolves
/// after a zero timeout instead, so reading never waits for the user to come back.
pub async fn next_frame() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let hidden = window.document().is_some_and(|d| d.hidden());
    let promise = Promise::new(&mut |resolve, _reject| {
        let scheduled =
            if hidden { window.set_timeout_with_callback(&resolve) } else { window.request_animation_frame(&resolve) };
        if scheduled.is_err() {
            // Nothing will call back: resolve now rather than hang.
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    // The promise never rejects.
    let _ = JsFuture::from(promise).await;
}

/// One `MessageChannel` for every [`next_task`]: each message resolves the oldest waiting
/// promise. (A channel per yield, hundreds per run, was measurable garbage.)
struct TaskChannel {
    channel: MessageChannel,
    waiting: Rc<RefCell<VecDeque<Function>>>,
    // Kept alive with the channel: the port's `onmessage` calls it.
    _on_message: Closure<dyn FnMut()>,
}

impl TaskChannel {
    fn new() -> Option<Self> {
        let channel = MessageChannel::new().ok()?;
        let waiting: Rc<RefCell<VecDeque<Function>>> = Rc::default();
        let queue = Rc::clone(&waiting);
        let on_message = Closure::<dyn FnMut()>::new(move || {
            let next = queue.borrow_mut().pop_front();
            if let Some(resolve) = next {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
        });
        channel.port1().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Some(TaskChannel { channel, waiting, _on_message: on_message })
    }
}

thread_local! {
    static TASKS: Option<TaskChannel> = TaskChannel::new();
}

/// Continues in a new task, queued behind whatever else is waiting (input, network, the
/// frame being rendered, a test driver's commands). A `MessageChannel` message rather than
/// `setTimeout(0)` (clamped to 4 ms when nested) or `scheduler.yield()` (whose
/// continuation jumps the queue, so a long decode still starves everything else).
pub async fn next_task() {
    let promise = Promise::new(&mut |resolve, _reject| {
        let posted = TASKS.with(|tasks| {
            let tasks = tasks.as_ref()?;
            // The message arrives in a later task, so queueing after posting is in time.
            tasks.channel.port2().post_message(&JsValue::UNDEFINED).ok()?;
            tasks.waiting.borrow_mut().push_back(resolve.clone());
            Some(())
        });
        if posted.is_none() {
            // No channel: continue at once rather than never.
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    // The promise never rejects.
    let _ = JsFuture::from(promise).await;
}

/// Lets the page render a frame, and continues once that frame is painted. (A plain task
/// yield is not enough when a frame is overdue: Chromium runs yielded continuations ahead
/// of rendering for up to ~100 ms.)
pub async fn yield_to_browser() {
    next_frame().await;
    next_task().await;
}

/// `performance.now()`, in ms.
pub fn now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// Drops a `performance.mark` (the previous run's).
pub fn clear_mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        performance.clear_marks_with_mark_name(name);
    }
}

/// `performance.mark(name)`, after dropping the previous run's mark of that name, so tests
/// and the Performance panel see this run's timeline.
pub fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        performance.clear_marks_with_mark_name(name);
        let _ = performance.mark(name);
    }
}
