//! The `rust` conformance peer: answers the JSON-lines peer protocol
//! (docs/peer-protocol.md) over this crate's port of the format. All of the
//! format lives in the library; this file is the protocol.

mod bench;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::SchemaRef;
use serde_json::{json, Map, Value};

use vgis::error::{bad_request, internal, ipc_error, out_of_bounds, unsupported, Result};
use vgis::pointer::{self, Metadata};
use vgis::{Kind, Segment, VgisError, ARROW_VERSION};

/// Keep in step with peer.toml's `capabilities` (the harness refuses a peer
/// whose two lists differ).
const CAPABILITIES: [&str; 9] = [
    "allocate",
    "allocations",
    "shrink",
    "reset",
    "read",
    "make_pointer",
    "maybe_write",
    "bench",
    "named_create",
];
/// WRITE-5: this writer has no size gate.
const MIN_BATCH_BYTES: usize = 0;

type Json = Map<String, Value>;

struct Handle {
    segment: Option<Segment>,
    name: String,
    owner: bool,
    unlinked: bool,
}

#[derive(Default)]
struct Peer {
    handles: HashMap<String, Handle>,
    count: u64,
}

fn arg<'a>(req: &'a Json, key: &str) -> Result<&'a Value> {
    req.get(key)
        .ok_or_else(|| bad_request("-", format!("missing argument {key:?}")))
}

fn uint(req: &Json, key: &str) -> Result<u64> {
    arg(req, key)?.as_u64().ok_or_else(|| {
        bad_request(
            "-",
            format!(
                "{key} must be a non-negative 64-bit integer, got {}",
                req[key]
            ),
        )
    })
}

fn string<'a>(req: &'a Json, key: &str) -> Result<&'a str> {
    arg(req, key)?
        .as_str()
        .ok_or_else(|| bad_request("-", format!("{key} must be a string, got {}", req[key])))
}

fn metadata(req: &Json) -> Result<Metadata> {
    match req.get("metadata") {
        None | Some(Value::Null) => Ok(Metadata::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(bad_request(
                    "-",
                    format!("metadata value of {k:?} must be a string, got {other}"),
                )),
            })
            .collect(),
        Some(other) => Err(bad_request(
            "-",
            format!("metadata must be an object of strings, got {other}"),
        )),
    }
}

fn md_json(md: &Metadata) -> Value {
    Value::Object(
        md.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// Schema and first batch of a batch or schema file (an Arrow IPC stream).
fn read_file(path: &str) -> Result<(SchemaRef, Option<RecordBatch>)> {
    let file =
        File::open(path).map_err(|e| bad_request("-", format!("cannot open {path:?}: {e}")))?;
    let mut reader = StreamReader::try_new(BufReader::new(file), None)
        .map_err(|e| ipc_error("-", format!("{path:?} is not an Arrow IPC stream: {e}")))?;
    let schema = reader.schema();
    let batch = reader
        .next()
        .transpose()
        .map_err(|e| ipc_error("-", format!("{path:?}: cannot read its batch: {e}")))?;
    Ok((schema, batch))
}

/// The batch of a batch file, or a zero-row batch of its schema.
fn read_batch_or_empty(path: &str) -> Result<RecordBatch> {
    match read_file(path)? {
        (_, Some(batch)) => Ok(batch),
        (schema, None) => pointer::empty_batch(&schema),
    }
}

fn save(path: &str, batch: &RecordBatch) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| internal("-", format!("cannot write {path:?}: {e}"));
    let file = File::create(path).map_err(|e| fail(&e))?;
    let mut writer =
        StreamWriter::try_new(BufWriter::new(file), &batch.schema()).map_err(|e| fail(&e))?;
    writer.write(batch).map_err(|e| fail(&e))?;
    writer.finish().map_err(|e| fail(&e))?;
    writer
        .into_inner()
        .map_err(|e| fail(&e))?
        .flush()
        .map_err(|e| fail(&e))?;
    Ok(())
}

fn bench_err(f: bench::Failure) -> VgisError {
    let kind = match f.kind {
        "bad_request" => Kind::BadRequest,
        "ipc_error" => Kind::IpcError,
        "out_of_bounds" => Kind::OutOfBounds,
        _ => Kind::Internal,
    };
    VgisError::new(kind, "-", f.message)
}

fn obj(value: Value) -> Json {
    match value {
        Value::Object(map) => map,
        _ => Json::new(),
    }
}

impl Peer {
    fn handle(&mut self, req: &Json) -> Result<&mut Handle> {
        let key = string(req, "segment")?;
        self.handles
            .get_mut(key)
            .ok_or_else(|| bad_request("-", format!("unknown segment handle {key:?}")))
    }

    fn seg(&mut self, req: &Json) -> Result<&mut Segment> {
        let h = self.handle(req)?;
        let name = h.name.clone();
        let segment = h
            .segment
            .as_mut()
            .ok_or_else(|| bad_request("-", format!("segment {name:?} is closed")))?;
        segment.check_live()?;
        Ok(segment)
    }

    fn keep(&mut self, segment: Segment) -> Json {
        self.count += 1;
        let key = format!("s{}", self.count);
        let answer = json!({"segment": key, "name": segment.name(), "size": segment.size()});
        let (name, owner) = (segment.name().to_string(), segment.owner());
        self.handles.insert(
            key,
            Handle {
                segment: Some(segment),
                name,
                owner,
                unlinked: false,
            },
        );
        obj(answer)
    }

    fn shutdown(&mut self) {
        for (_, mut h) in self.handles.drain() {
            h.segment = None;
            if h.owner && !h.unlinked {
                if let Err(e) = vgis::segment::unlink_name(&h.name) {
                    eprintln!("rust peer: shutdown: {e}");
                }
            }
        }
    }

    /// The `bench` operation (docs/peer-protocol.md): every repetition timed
    /// on its own, inside the peer, after the batch file has been read.
    fn bench(&mut self, req: &Json) -> Result<Json> {
        let action = string(req, "action")?;
        let repeat = uint(req, "repeat")?;
        if repeat == 0 {
            return Err(bad_request("-", "repeat must be at least 1"));
        }
        let batch_of = |req: &Json| -> Result<RecordBatch> {
            let (_, batch) = read_file(string(req, "batch")?)?;
            batch.ok_or_else(|| bad_request("-", "the batch file holds no batch"))
        };
        let mut seconds = Vec::new();
        let bytes: u64;
        match action {
            "write" => {
                let batch = batch_of(req)?;
                let seg = self.seg(req)?;
                let mut length = 0;
                for _ in 0..repeat {
                    let start = Instant::now();
                    let placed = seg.write_batch(&batch)?;
                    let elapsed = start.elapsed();
                    let Some((offset, len)) = placed else {
                        return Err(bad_request(
                            "WRITE-6",
                            format!("the batch does not fit in the {}-byte segment", seg.size()),
                        ));
                    };
                    seg.allocator().free(offset)?;
                    seconds.push(bench::secs(elapsed));
                    length = len;
                }
                bytes = length;
            }
            "resolve" => {
                let (schema, _) = read_file(string(req, "batch")?)?;
                let (offset, length) = (uint(req, "offset")?, uint(req, "length")?);
                let (pointer_batch, md) = pointer::make_pointer(&schema, offset, length)?;
                let seg = self.seg(req)?;
                for _ in 0..repeat {
                    let (given, given_md) = (pointer_batch.clone(), md.clone());
                    let start = Instant::now();
                    let resolved = pointer::resolve(given, given_md, seg)?;
                    bench::touch(&resolved.batch);
                    seconds.push(bench::secs(start.elapsed()));
                    // Nothing is freed: the region stays the harness's.
                }
                bytes = length;
            }
            "memcpy" => {
                let length = uint(req, "length")?;
                let seg = self.seg(req)?;
                let end = (bench::DATA_START as u64).checked_add(length);
                if end.is_none_or(|end| end > seg.size() as u64) {
                    return Err(out_of_bounds(
                        "-",
                        format!(
                            "{length} bytes from {} do not fit in the {}-byte segment",
                            bench::DATA_START,
                            seg.size()
                        ),
                    ));
                }
                let src = bench::private_buffer(length as usize);
                let dst = seg.bytes_mut()[bench::DATA_START..].as_mut_ptr();
                // SAFETY: bounds checked above; the private buffer is not in the mapping.
                seconds = unsafe { bench::time_memcpy(dst, &src, repeat) };
                bytes = length;
            }
            "pipe_write" => {
                let batch = batch_of(req)?;
                let (s, b) = bench::pipe_write(string(req, "path")?, &batch, repeat).map_err(bench_err)?;
                (seconds, bytes) = (s, b);
            }
            "pipe_read" => {
                let (s, b) = bench::pipe_read(string(req, "path")?, repeat).map_err(bench_err)?;
                (seconds, bytes) = (s, b);
            }
            other => {
                return Err(bad_request(
                    "-",
                    format!("unknown bench action {other:?} (write, resolve, memcpy, pipe_write, pipe_read)"),
                ))
            }
        }
        Ok(obj(json!({"seconds": seconds, "bytes": bytes})))
    }

    fn op(&mut self, op: &str, req: &Json) -> Result<Json> {
        let answer = match op {
            "hello" => json!({
                "name": "rust",
                "version": env!("CARGO_PKG_VERSION"),
                "language": "rust",
                "protocol": 1,
                "arrow": {"library": "arrow-rs", "version": ARROW_VERSION},
                "capabilities": CAPABILITIES,
                "min_batch_bytes": MIN_BATCH_BYTES,
            }),
            "shutdown" => {
                self.shutdown();
                json!({})
            }
            "create" => {
                let segment = Segment::create(string(req, "name")?, uint(req, "size")?)?;
                return Ok(self.keep(segment));
            }
            "attach" => {
                let size = match req.get("size") {
                    None | Some(Value::Null) => None,
                    Some(_) => Some(uint(req, "size")?),
                };
                let segment = Segment::attach(string(req, "name")?, size)?;
                return Ok(self.keep(segment));
            }
            "close" => {
                self.handle(req)?.segment = None;
                json!({})
            }
            "unlink" => {
                let h = self.handle(req)?;
                if !h.owner {
                    return Err(bad_request(
                        "LIFE-10",
                        format!("an attacher never unlinks {:?}", h.name),
                    ));
                }
                if !h.unlinked {
                    vgis::segment::unlink_name(&h.name)?;
                    h.unlinked = true;
                }
                json!({})
            }
            "header" => {
                let length = uint(req, "length")?;
                let bytes = self.seg(req)?.bytes();
                let n = usize::try_from(length)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let hex: String = bytes[..n].iter().map(|b| format!("{b:02x}")).collect();
                json!({ "hex": hex })
            }
            "write" => {
                let (_, batch) = read_file(string(req, "batch")?)?;
                let batch =
                    batch.ok_or_else(|| bad_request("WRITE-4", "the batch file holds no batch"))?;
                match self.seg(req)?.write_batch(&batch)? {
                    Some((offset, length)) => json!({"offset": offset, "length": length}),
                    None => json!({"offset": null, "length": null}),
                }
            }
            "resolve" => {
                let batch = read_batch_or_empty(string(req, "batch")?)?;
                let md = metadata(req)?;
                let out = string(req, "out")?;
                let resolved = pointer::resolve(batch, md, self.seg(req)?)?;
                save(out, &resolved.batch)?;
                json!({
                    "pointer": resolved.release_offset.is_some(),
                    "metadata": md_json(&resolved.metadata),
                    "release_offset": resolved.release_offset,
                })
            }
            "allocate" => {
                json!({ "offset": self.seg(req)?.allocator().allocate(uint(req, "size")?)? })
            }
            "free" => {
                let offset = uint(req, "offset")?;
                self.seg(req)?.allocator().free(offset)?;
                json!({})
            }
            "allocations" => json!({ "entries": self.seg(req)?.allocator().entries() }),
            "shrink" => {
                let (offset, length) = (uint(req, "offset")?, uint(req, "length")?);
                self.seg(req)?.allocator().shrink(offset, length)?;
                json!({})
            }
            "reset" => {
                self.seg(req)?.allocator().reset();
                json!({})
            }
            "read" => {
                let (schema, _) = read_file(string(req, "schema")?)?;
                let (offset, length, out) = (
                    uint(req, "offset")?,
                    uint(req, "length")?,
                    string(req, "out")?,
                );
                let batch = self.seg(req)?.read_batch(offset, length, &schema)?;
                save(out, &batch)?;
                json!({ "rows": batch.num_rows() })
            }
            "make_pointer" => {
                let (schema, _) = read_file(string(req, "schema")?)?;
                let (batch, md) =
                    pointer::make_pointer(&schema, uint(req, "offset")?, uint(req, "length")?)?;
                save(string(req, "out")?, &batch)?;
                json!({ "metadata": md_json(&md) })
            }
            "maybe_write" => {
                let batch = read_batch_or_empty(string(req, "batch")?)?;
                let md = metadata(req)?;
                let out = string(req, "out")?;
                let (batch, md, is_pointer) =
                    pointer::maybe_write(batch, md, self.seg(req)?, MIN_BATCH_BYTES)?;
                save(out, &batch)?;
                json!({"pointer": is_pointer, "metadata": md_json(&md)})
            }
            "bench" => return self.bench(req),
            other => {
                return Err(unsupported(
                    "-",
                    format!("unknown or unsupported op {other:?}"),
                ))
            }
        };
        Ok(obj(answer))
    }
}

fn error_response(id: Value, e: &VgisError) -> Value {
    json!({"id": id, "ok": false, "error": {"kind": e.kind.as_str(), "message": e.to_string()}})
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

/// One line in, one response out; the bool is true after `shutdown`.
fn answer(peer: &mut Peer, line: &str) -> (Value, bool) {
    let req = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return (
                error_response(Value::Null, &bad_request("-", "a request is a JSON object")),
                false,
            )
        }
        Err(e) => {
            return (
                error_response(
                    Value::Null,
                    &bad_request("-", format!("not a JSON line: {e}")),
                ),
                false,
            )
        }
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let op = req
        .get("op")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let result = catch_unwind(AssertUnwindSafe(|| peer.op(&op, &req))).unwrap_or_else(|p| {
        Err(internal(
            "ERR-2",
            format!("panic while answering {op}: {}", panic_message(&*p)),
        ))
    });
    let response = match result {
        Ok(fields) => {
            let mut map = Json::new();
            map.insert("id".into(), id);
            map.insert("ok".into(), Value::Bool(true));
            map.extend(fields);
            Value::Object(map)
        }
        Err(e) => error_response(id, &e),
    };
    (response, op == "shutdown")
}

fn main() {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut peer = Peer::default();
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match input.read_until(b'\n', &mut raw) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("rust peer: cannot read stdin: {e}");
                break;
            }
        }
        let line = String::from_utf8_lossy(&raw);
        if line.trim().is_empty() {
            continue;
        }
        let (response, done) = answer(&mut peer, &line);
        let mut out = stdout.lock();
        let written = writeln!(out, "{response}").and_then(|_| out.flush());
        if written.is_err() || done {
            break;
        }
    }
    peer.shutdown();
}
