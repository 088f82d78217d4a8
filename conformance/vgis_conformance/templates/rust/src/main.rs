//! A VGIS peer: one JSON request per line on stdin, one response per line on
//! stdout (docs/peer-protocol.md). It answers hello and shutdown; every other
//! op is "unsupported" until you implement it. Logs go to stderr.
//!
//! serde_json keeps integers as u64 or i64, so offsets and sizes up to
//! 2^64 - 1 are exact: read them with `Value::as_u64`.

use std::io::{self, BufRead, Write};

use serde_json::{json, Map, Value};

const NAME: &str = "@PEER_NAME@";
/// Must equal peer.toml's list.
const CAPABILITIES: [&str; 0] = [];

/// An error answer: `kind` is one of the protocol's error kinds.
struct Rejected {
    kind: &'static str,
    message: String,
}

fn handle(req: &Value) -> Result<Map<String, Value>, Rejected> {
    let op = req.get("op").and_then(Value::as_str).unwrap_or("");
    let result = match op {
        "hello" => json!({
            "name": NAME, "version": "0.1.0", "language": "rust", "protocol": 1,
            "arrow": {"library": "none", "version": "0"}, "capabilities": CAPABILITIES,
        }),
        "shutdown" => json!({}),
        _ => {
            return Err(Rejected { kind: "unsupported", message: format!("op {op:?} is not implemented yet") })
        }
    };
    Ok(result.as_object().cloned().unwrap_or_default())
}

fn failure(id: Value, kind: &str, message: &str) -> Value {
    json!({"id": id, "ok": false, "error": {"kind": kind, "message": message}})
}

/// The response to one request line, and whether the peer should stop.
fn answer(line: &str) -> (Value, bool) {
    let req: Value = match serde_json::from_str(line) {
        Ok(req) => req,
        Err(e) => return (failure(Value::Null, "bad_request", &format!("not JSON: {e}")), false),
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    match handle(&req) {
        Ok(mut result) => {
            result.insert("id".into(), id);
            result.insert("ok".into(), Value::Bool(true));
            (Value::Object(result), req.get("op") == Some(&json!("shutdown")))
        }
        Err(r) => (failure(id, r.kind, &r.message), false),
    }
}

fn main() -> io::Result<()> {
    let stdin = io::stdin();
    let mut out = io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let (response, stop) = answer(&line);
        writeln!(out, "{response}")?;
        out.flush()?;
        if stop {
            break;
        }
    }
    Ok(())
}
