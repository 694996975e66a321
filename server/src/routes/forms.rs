//! The seed's form handlers: `POST /demo1/{name}` (field `key`, answered as JSON) and
//! `POST /greet` (field `name`, answered `Hello, <name>!`). Both read
//! `application/x-www-form-urlencoded` or `multipart/form-data` through [`FormFields`],
//! which turns every bad body into a JSON error (400 / 413 / 415). Both need a JWT.

use axum::extract::Path;
use axum::Json;
use serde::Serialize;

use crate::error::AppError;
use crate::form::FormFields;

#[derive(Debug, Serialize)]
pub struct Demo1 {
    pub name: String,
    pub key: String,
}

pub async fn demo1(Path(name): Path<String>, form: FormFields) -> Result<Json<Demo1>, AppError> {
    let key = form.required("key")?.to_owned();
    Ok(Json(Demo1 { name, key }))
}

pub async fn greet(form: FormFields) -> Result<String, AppError> {
    Ok(format!("Hello, {}!", form.required("name")?))
}
