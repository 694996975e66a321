//! `GET /hello`: `Hello, world!` as `text/plain`, no auth. The seed's benchmark endpoint
//! (its aiohttp and flask apps answered the same at `/`).

pub async fn hello() -> &'static str {
    "Hello, world!"
}
