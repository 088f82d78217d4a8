//! The request loop: one JSON object per line in, one response per line out,
//! ids echoed, every error and panic answered, and the shutdown (at the
//! `shutdown` op or at end of input) that closes and unlinks what is held.

use std::io::{BufRead, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::{json, Value};

use crate::backend::Backend;
use crate::error::{Error, Kind, Result};
use crate::handles::Handles;
use crate::ops::{capability, dispatch};
use crate::request::{Json, Request};

/// Answer requests on stdin until end of input or `shutdown`, on stdout.
pub fn run<B: Backend>(backend: B) {
    let stdin = std::io::stdin();
    serve(backend, stdin.lock(), std::io::stdout());
}

/// [`run`] over any input and output (the SDK's tests drive it in memory).
pub fn serve<B: Backend>(mut backend: B, mut input: impl BufRead, mut output: impl Write) {
    let capabilities = backend.info().capabilities;
    let mut handles = Handles::new();
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match input.read_until(b'\n', &mut raw) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("vgis-peer: cannot read stdin: {e}");
                break;
            }
        }
        let line = String::from_utf8_lossy(&raw);
        if line.trim().is_empty() {
            continue;
        }
        let (response, done) = answer(&mut backend, &mut handles, &capabilities, &line);
        let written = writeln!(output, "{response}").and_then(|_| output.flush());
        if written.is_err() || done {
            break;
        }
    }
    handles.shutdown();
}

fn error_response(id: Value, kind: Kind, message: &str) -> Value {
    json!({"id": id, "ok": false, "error": {"kind": kind.as_str(), "message": message}})
}

fn panic_payload(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

/// One line in, one response out; the bool is true after `shutdown`.
fn answer<B: Backend>(
    backend: &mut B,
    handles: &mut Handles<B::Segment>,
    capabilities: &[&str],
    line: &str,
) -> (Value, bool) {
    let body = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return (
                error_response(Value::Null, Kind::BadRequest, "a request is a JSON object"),
                false,
            )
        }
        Err(e) => {
            let message = format!("not a JSON line: {e}");
            return (
                error_response(Value::Null, Kind::BadRequest, &message),
                false,
            );
        }
    };
    let id = body.get("id").cloned().unwrap_or(Value::Null);
    let req = Request::new(body);
    let result = catch_unwind(AssertUnwindSafe(|| {
        answer_op(&mut *backend, &mut *handles, capabilities, &req)
    }))
    .unwrap_or_else(|p| {
        let message = backend.panic_message(&req.op, &panic_payload(&*p));
        Err(Error::new(Kind::Internal, message))
    });
    let response = match result {
        Ok(fields) => {
            let mut map = Json::new();
            map.insert("id".into(), id);
            map.insert("ok".into(), Value::Bool(true));
            map.extend(fields);
            Value::Object(map)
        }
        Err(e) => {
            let (kind, message) = e.answer(|lib| backend.classify(&req.op, lib));
            error_response(id, kind, &message)
        }
    };
    (response, req.op == "shutdown")
}

fn answer_op<B: Backend>(
    backend: &mut B,
    handles: &mut Handles<B::Segment>,
    capabilities: &[&str],
    req: &Request,
) -> Result<Json> {
    if let Some(needed) = capability(&req.op) {
        if !capabilities.contains(&needed) {
            return Err(Error::new(
                Kind::Unsupported,
                format!(
                    "{} needs capability {needed}, which this peer lacks",
                    req.op
                ),
            ));
        }
    }
    if req.op == "shutdown" {
        handles.shutdown();
        return Ok(Json::new());
    }
    dispatch(backend, handles, req)
}
