//! A request's arguments, read with the protocol's error kinds: a missing or
//! mistyped argument is `bad_request`, and integers are exact up to 2^64 - 1
//! (serde_json keeps a JSON integer as `u64`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{bad_request, Result};

/// A JSON object: a request, or the body of a successful response.
pub type Json = Map<String, Value>;

/// Custom metadata (a JSON object of strings), sorted by key so that every
/// answer lists it the same way.
pub type Metadata = BTreeMap<String, String>;

/// One request: its `op` and its arguments.
pub struct Request {
    pub op: String,
    body: Json,
}

impl Request {
    pub fn new(body: Json) -> Request {
        let op = body
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Request { op, body }
    }

    /// The argument `key`; `bad_request` when absent.
    pub fn arg(&self, key: &str) -> Result<&Value> {
        self.body
            .get(key)
            .ok_or_else(|| bad_request(format!("missing argument {key:?}")))
    }

    pub fn uint(&self, key: &str) -> Result<u64> {
        let v = self.arg(key)?;
        v.as_u64().ok_or_else(|| {
            bad_request(format!(
                "{key} must be a non-negative 64-bit integer, got {v}"
            ))
        })
    }

    /// An integer argument that may be absent or `null`.
    pub fn opt_uint(&self, key: &str) -> Result<Option<u64>> {
        match self.body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.uint(key).map(Some),
        }
    }

    pub fn string(&self, key: &str) -> Result<&str> {
        let v = self.arg(key)?;
        v.as_str()
            .ok_or_else(|| bad_request(format!("{key} must be a string, got {v}")))
    }

    /// The `metadata` argument; absent or `null` is empty.
    pub fn metadata(&self) -> Result<Metadata> {
        match self.body.get("metadata") {
            None | Some(Value::Null) => Ok(Metadata::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    other => Err(bad_request(format!(
                        "metadata value of {k:?} must be a string, got {other}"
                    ))),
                })
                .collect(),
            Some(other) => Err(bad_request(format!(
                "metadata must be an object of strings, got {other}"
            ))),
        }
    }
}
