//! One function per op of docs/peer-protocol.md: read the arguments and
//! files, call the backend or the segment, write the files, build the answer.

use serde_json::{json, Value};

use crate::backend::{Backend, Segment};
use crate::bench;
use crate::error::{bad_request, unsupported, Result};
use crate::files::{read_file, write_file};
use crate::handles::Handles;
use crate::request::{Json, Metadata, Request};

/// The protocol version this SDK speaks.
pub const PROTOCOL: u64 = 1;

/// The capability an optional op needs (docs/peer-protocol.md, "Operations").
pub(crate) fn capability(op: &str) -> Option<&'static str> {
    Some(match op {
        "allocate" | "free" => "allocate",
        "allocations" => "allocations",
        "shrink" => "shrink",
        "reset" => "reset",
        "read" => "read",
        "make_pointer" => "make_pointer",
        "maybe_write" => "maybe_write",
        "advertise" => "advertise",
        "bench" => "bench",
        _ => return None,
    })
}

fn obj(value: Value) -> Json {
    match value {
        Value::Object(map) => map,
        _ => Json::new(),
    }
}

fn md_json(md: &Metadata) -> Value {
    json!(md)
}

/// The batch of a batch file, or the backend's zero-row batch of its schema.
fn batch_or_empty<B: Backend>(backend: &B, path: &str) -> Result<arrow_array::RecordBatch> {
    match read_file(path)? {
        (_, Some(batch)) => Ok(batch),
        (schema, None) => backend.empty_batch(&schema),
    }
}

fn hello<B: Backend>(backend: &B) -> Json {
    let info = backend.info();
    let mut answer = obj(json!({
        "name": info.name,
        "version": info.version,
        "language": info.language,
        "protocol": PROTOCOL,
        "arrow": {"library": info.arrow_library, "version": info.arrow_version},
        "capabilities": info.capabilities,
    }));
    if let Some(min) = info.min_batch_bytes {
        answer.insert("min_batch_bytes".into(), json!(min));
    }
    answer
}

fn keep<S: Segment>(handles: &mut Handles<S>, segment: S, owner: bool) -> Json {
    let (name, size) = (segment.name().to_string(), segment.size());
    let key = handles.add(segment, owner);
    obj(json!({"segment": key, "name": name, "size": size}))
}

/// Answer `req` (any op but `shutdown`).
pub(crate) fn dispatch<B: Backend>(
    backend: &mut B,
    handles: &mut Handles<B::Segment>,
    req: &Request,
) -> Result<Json> {
    let answer = match req.op.as_str() {
        "hello" => return Ok(hello(backend)),
        "create" => {
            let segment = backend.create(req.string("name")?, req.uint("size")?)?;
            return Ok(keep(handles, segment, true));
        }
        "attach" => {
            let segment = backend.attach(req.string("name")?, req.opt_uint("size")?)?;
            return Ok(keep(handles, segment, false));
        }
        "close" => {
            handles.close(req)?;
            json!({})
        }
        "unlink" => {
            handles.unlink(req)?;
            json!({})
        }
        "header" => {
            let length = req.uint("length")?;
            let bytes = handles.open(req)?.header(length)?;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            json!({ "hex": hex })
        }
        "write" => {
            let (_, batch) = read_file(req.string("batch")?)?;
            let batch =
                batch.ok_or_else(|| bad_request("[WRITE-4] the batch file holds no batch"))?;
            match handles.open(req)?.write(&batch)? {
                Some((offset, length)) => json!({"offset": offset, "length": length}),
                None => json!({"offset": null, "length": null}),
            }
        }
        "resolve" => {
            let batch = batch_or_empty(backend, req.string("batch")?)?;
            let (md, out) = (req.metadata()?, req.string("out")?);
            let resolved = handles.open(req)?.resolve(batch, md)?;
            write_file(out, &resolved.batch)?;
            json!({
                "pointer": resolved.pointer,
                "metadata": md_json(&resolved.metadata),
                "release_offset": resolved.release_offset,
            })
        }
        "allocate" => {
            let size = req.uint("size")?;
            json!({ "offset": handles.open(req)?.allocate(size)? })
        }
        "free" => {
            let offset = req.uint("offset")?;
            handles.open(req)?.free(offset)?;
            json!({})
        }
        "allocations" => json!({ "entries": handles.open(req)?.allocations()? }),
        "shrink" => {
            let (offset, length) = (req.uint("offset")?, req.uint("length")?);
            handles.open(req)?.shrink(offset, length)?;
            json!({})
        }
        "reset" => {
            handles.open(req)?.reset()?;
            json!({})
        }
        "read" => {
            let (schema, _) = read_file(req.string("schema")?)?;
            let (offset, length) = (req.uint("offset")?, req.uint("length")?);
            let out = req.string("out")?;
            let batch = handles.open(req)?.read(offset, length, &schema)?;
            write_file(out, &batch)?;
            json!({ "rows": batch.num_rows() })
        }
        "make_pointer" => {
            let (schema, _) = read_file(req.string("schema")?)?;
            let (offset, length) = (req.uint("offset")?, req.uint("length")?);
            let (batch, md) = backend.make_pointer(&schema, offset, length)?;
            write_file(req.string("out")?, &batch)?;
            json!({ "metadata": md_json(&md) })
        }
        "maybe_write" => {
            let batch = batch_or_empty(backend, req.string("batch")?)?;
            let (md, out) = (req.metadata()?, req.string("out")?);
            let written = handles.open(req)?.maybe_write(batch, md)?;
            write_file(out, &written.batch)?;
            json!({"pointer": written.pointer, "metadata": md_json(&written.metadata)})
        }
        "advertise" => json!({ "metadata": md_json(&handles.open(req)?.advertise()?) }),
        "bench" => return bench::bench(backend, handles, req).map(obj),
        other => return Err(unsupported(other)),
    };
    Ok(obj(answer))
}
