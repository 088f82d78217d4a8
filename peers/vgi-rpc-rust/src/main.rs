//! The `vgi-rpc-rust` conformance peer: a thin adapter from the JSON-lines
//! peer protocol (docs/peer-protocol.md) to the `shm` module of the published
//! `vgi-rpc` crate (pinned in Cargo.toml). Every format decision (header,
//! allocator, framing, pointer metadata, size gate) is the crate's; where the
//! crate disagrees with docs/SPEC.md the disagreement shows up as a failing
//! case (listed in known-failures.txt), never as a fix here.
//!
//! Adapter decisions, all protocol plumbing (see README.md):
//!
//! - `create` ignores the requested name: `ShmSegment::create` picks its own
//!   (`/vgi_rpc_<pid>_<nanos>`), which the response reports.
//! - A created segment is unmapped *and unlinked* when its `ShmSegment` drops
//!   (the crate has no close-without-unlink for the owner), so `close` of a
//!   created segment only retires the handle; `unlink` (or shutdown) drops it.
//!   An attached segment is opened with `track = false` and dropped on `close`.
//! - The crate frees a zero-copy (stream-framed) batch's entry when the last
//!   Arrow buffer of the batch drops. `resolve` and `read` therefore keep the
//!   batch they decoded until the harness asks to `free` that offset; the
//!   crate's own drop then frees it. `release_offset` reports the offset the
//!   crate will free: its own `release_offset`, or for the zero-copy path the
//!   pointer's offset parsed as the crate parses it.
//! - `attach` with a `null` size passes the object's `fstat` size, since the
//!   crate's `attach` requires one.
//! - `write` of a zero-row batch answers `bad_request` (WRITE-4), as the crate's
//!   public write path `maybe_write_to_shm` never writes one.
//! - The crate reports plain `RpcError`s; `classify` maps their type and
//!   message to the protocol's error kinds.

#[path = "../../rust/src/bench.rs"]
mod bench;

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::SchemaRef;
use serde_json::{json, Map, Value};
use vgi_rpc::metadata::SHM_OFFSET_KEY;
use vgi_rpc::shm::{self, ShmAllocator, ShmSegment, HEADER_SIZE};
use vgi_rpc::wire::{self, Metadata};
use vgi_rpc::RpcError;

const NAME: &str = "vgi-rpc-rust";
/// The pinned crate version (checked against Cargo.lock by a unit test), or the
/// release build.py built against (`--peer vgi-rpc-rust@VERSION`, a checkout).
const CRATE_VERSION: &str = match option_env!("VGIS_VGI_RPC_VERSION") {
    Some(v) => v,
    None => "0.32.0",
};
/// The crate's Arrow (checked against Cargo.lock by a unit test), or that release's.
const ARROW_VERSION: &str = match option_env!("VGIS_ARROW_VERSION") {
    Some(v) => v,
    None => "60.1.0",
};
/// Keep in step with peer.toml's `capabilities` (the harness refuses a peer
/// whose two lists differ).
const CAPABILITIES: [&str; 8] = [
    "allocate",
    "allocations",
    "shrink",
    "reset",
    "read",
    "make_pointer",
    "maybe_write",
    "bench",
];

type Json = Map<String, Value>;

/// A protocol answer: an error kind and a message.
#[derive(Debug)]
struct Failure {
    kind: &'static str,
    message: String,
}

type Result<T> = std::result::Result<T, Failure>;

fn fail(kind: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        kind,
        message: message.into(),
    }
}

/// Map an error the crate raised while answering `op` to a protocol kind.
fn classify(op: &str, e: &RpcError) -> Failure {
    let m = e.message.as_str();
    let message = format!("{}: {}", e.error_type, m);
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    let kind = match e.error_type.as_str() {
        "ValueError" if has(&["no allocation at offset"]) => "no_allocation",
        "ValueError" if has(&["segment size must be >", "shrink: new_len"]) => "bad_request",
        "ValueError"
            if has(&[
                "bad SHM magic",
                "unsupported SHM version",
                "data_size mismatch",
            ]) =>
        {
            "bad_header"
        }
        "ValueError" if has(&["bad shm_offset", "bad shm_length"]) => "bad_pointer",
        "ValueError"
            if has(&[
                "out of bounds",
                "shm offset overflow",
                "shm region overflow",
            ]) =>
        {
            "out_of_bounds"
        }
        "ValueError" if has(&["invalid shm name"]) => "bad_name",
        "IPC" | "ArrowError" => "ipc_error",
        "IOError" | "AlreadyExists" if op == "create" => "bad_name",
        "IOError" if op == "attach" && m.starts_with("shm_open") => "bad_name",
        "IOError" if op == "attach" && m.starts_with("mmap") => "bad_header",
        _ => "internal",
    };
    fail(kind, message)
}

fn crate_err(op: &str) -> impl Fn(RpcError) -> Failure + '_ {
    move |e| classify(op, &e)
}

// --- arguments, files and metadata ----------------------------------------------

fn arg<'a>(req: &'a Json, key: &str) -> Result<&'a Value> {
    req.get(key)
        .ok_or_else(|| fail("bad_request", format!("missing argument {key:?}")))
}

fn uint(req: &Json, key: &str) -> Result<u64> {
    let v = arg(req, key)?;
    v.as_u64().ok_or_else(|| {
        fail(
            "bad_request",
            format!("{key} must be a non-negative 64-bit integer, got {v}"),
        )
    })
}

fn usize_arg(req: &Json, key: &str) -> Result<usize> {
    let v = uint(req, key)?;
    usize::try_from(v).map_err(|_| fail("bad_request", format!("{key} {v} does not fit in usize")))
}

fn string<'a>(req: &'a Json, key: &str) -> Result<&'a str> {
    let v = arg(req, key)?;
    v.as_str()
        .ok_or_else(|| fail("bad_request", format!("{key} must be a string, got {v}")))
}

fn metadata(req: &Json) -> Result<Metadata> {
    match req.get("metadata") {
        None | Some(Value::Null) => Ok(Metadata::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(fail(
                    "bad_request",
                    format!("metadata value of {k:?} must be a string, got {other}"),
                )),
            })
            .collect(),
        Some(other) => Err(fail(
            "bad_request",
            format!("metadata must be an object of strings, got {other}"),
        )),
    }
}

fn md_json(md: &Metadata) -> Value {
    let sorted: std::collections::BTreeMap<_, _> = md.iter().collect();
    json!(sorted)
}

/// Schema and first batch of a batch or schema file (an Arrow IPC stream).
fn read_file(path: &str) -> Result<(SchemaRef, Option<RecordBatch>)> {
    let file =
        File::open(path).map_err(|e| fail("bad_request", format!("cannot open {path:?}: {e}")))?;
    let mut reader = StreamReader::try_new(BufReader::new(file), None).map_err(|e| {
        fail(
            "ipc_error",
            format!("{path:?} is not an Arrow IPC stream: {e}"),
        )
    })?;
    let schema = reader.schema();
    let batch = reader
        .next()
        .transpose()
        .map_err(|e| fail("ipc_error", format!("{path:?}: cannot read its batch: {e}")))?;
    Ok((schema, batch))
}

/// The batch of a batch file, or a zero-row batch of its schema (built as the
/// crate builds pointer batches).
fn read_batch_or_empty(path: &str) -> Result<RecordBatch> {
    match read_file(path)? {
        (_, Some(batch)) => Ok(batch),
        (schema, None) => wire::empty_batch(&schema).map_err(crate_err("resolve")),
    }
}

fn save(path: &str, batch: &RecordBatch) -> Result<()> {
    let io = |e: &dyn std::fmt::Display| fail("internal", format!("cannot write {path:?}: {e}"));
    let file = File::create(path).map_err(|e| io(&e))?;
    let mut writer =
        StreamWriter::try_new(BufWriter::new(file), &batch.schema()).map_err(|e| io(&e))?;
    writer.write(batch).map_err(|e| io(&e))?;
    writer.finish().map_err(|e| io(&e))?;
    writer
        .into_inner()
        .map_err(|e| io(&e))?
        .flush()
        .map_err(|e| io(&e))?;
    Ok(())
}

/// The size of the shared-memory object `name` (tried as given, then with a
/// leading slash, as the crate's attach does), for an attach without an
/// advertised size.
fn object_size(name: &str) -> Result<usize> {
    let mut candidates = vec![name.to_string()];
    if !name.starts_with('/') {
        candidates.push(format!("/{name}"));
    }
    for candidate in candidates {
        let Ok(cname) = CString::new(candidate) else {
            continue;
        };
        let fd = unsafe { libc::shm_open(cname.as_ptr(), libc::O_RDONLY, 0) };
        if fd < 0 {
            continue;
        }
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::fstat(fd, &mut st) };
        unsafe { libc::close(fd) };
        if rc == 0 {
            return Ok(st.st_size.max(0) as usize);
        }
    }
    Err(fail("bad_name", format!("cannot open segment {name:?}")))
}

// --- bench helpers ---------------------------------------------------------------

fn bench_err(f: bench::Failure) -> Failure {
    fail(f.kind, f.message)
}

/// Put the entry `(offset, length)` back at exactly its offset after the
/// crate freed it, using only the crate's first-fit allocator: fill every gap
/// below `offset` (and the start of its own gap) with temporary entries,
/// allocate `length` (which then lands at `offset`), free the fillers. The
/// table ends as `before` was. No other process allocates meanwhile: the
/// harness waits for the bench answer.
fn replace_entry(
    alloc: &ShmAllocator,
    before: &[(u64, u64)],
    offset: u64,
    length: u64,
) -> Result<()> {
    let now = alloc.dump_allocs();
    if now.iter().any(|&(o, _)| o == offset) {
        return Ok(());
    }
    let mut sorted = now.clone();
    sorted.sort_unstable();
    let mut fillers = Vec::new();
    let mut prev_end = HEADER_SIZE as u64;
    let mut gaps: Vec<(u64, u64)> = Vec::new();
    for &(o, l) in &sorted {
        if o >= offset {
            break;
        }
        if o > prev_end {
            gaps.push((prev_end, o - prev_end));
        }
        prev_end = prev_end.max(o.saturating_add(l));
    }
    if offset > prev_end {
        gaps.push((prev_end, offset - prev_end));
    }
    let mut result = Ok(());
    for (at, size) in gaps {
        match alloc.allocate(size as usize) {
            Some(got) => {
                fillers.push(got);
                if got != at {
                    result = Err(format!("a filler for the gap at {at} landed at {got}"));
                    break;
                }
            }
            None => {
                result = Err(format!("cannot fill the gap at {at} ({size} bytes)"));
                break;
            }
        }
    }
    if result.is_ok() {
        match alloc.allocate(length as usize) {
            Some(got) if got == offset => {}
            Some(got) => {
                let _ = alloc.free(got);
                result = Err(format!("the entry landed at {got}"));
            }
            None => result = Err("the entry does not fit any more".to_string()),
        }
    }
    for f in fillers {
        let _ = alloc.free(f);
    }
    result.map_err(|m| {
        fail(
            "internal",
            format!("bench resolve: the crate freed the harness's region {offset}+{length} and it cannot be re-placed: {m}"),
        )
    })?;
    let mut after = alloc.dump_allocs();
    let mut expected = before.to_vec();
    after.sort_unstable();
    expected.sort_unstable();
    if after != expected {
        return Err(fail(
            "internal",
            format!("bench resolve: the table after re-placing is {after:?}, was {expected:?}"),
        ));
    }
    Ok(())
}

/// A writable mapping of a segment's shared-memory object, for the memcpy
/// baseline (the crate exposes no mutable view of its own mapping). Same
/// object, same physical pages; unmapped on drop.
struct Mapping {
    ptr: *mut u8,
    size: usize,
}

impl Mapping {
    fn open(name: &str, size: usize) -> Result<Mapping> {
        let mut candidates = vec![name.to_string()];
        if !name.starts_with('/') {
            candidates.push(format!("/{name}"));
        }
        for candidate in candidates {
            let Ok(cname) = CString::new(candidate) else {
                continue;
            };
            let fd = unsafe { libc::shm_open(cname.as_ptr(), libc::O_RDWR, 0) };
            if fd < 0 {
                continue;
            }
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    size,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd,
                    0,
                )
            };
            unsafe { libc::close(fd) };
            if ptr == libc::MAP_FAILED {
                return Err(fail(
                    "internal",
                    format!("cannot map {name:?}: {}", std::io::Error::last_os_error()),
                ));
            }
            return Ok(Mapping {
                ptr: ptr as *mut u8,
                size,
            });
        }
        Err(fail("bad_name", format!("cannot open segment {name:?}")))
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.size) };
    }
}

// --- the operations -------------------------------------------------------------

struct Handle {
    segment: Option<ShmSegment>,
    owner: bool,
    closed: bool,
    /// Zero-copy batches decoded by `resolve`/`read`, by region offset: the
    /// crate frees each entry when its batch drops, which `free` triggers.
    held: Vec<(u64, RecordBatch)>,
}

#[derive(Default)]
struct Peer {
    handles: HashMap<String, Handle>,
    count: u64,
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
            .ok_or_else(|| fail("bad_request", format!("unknown segment handle {key:?}")))
    }

    fn open(&mut self, req: &Json) -> Result<&mut Handle> {
        let h = self.handle(req)?;
        if h.closed || h.segment.is_none() {
            return Err(fail("bad_request", "the segment is closed"));
        }
        Ok(h)
    }

    fn seg(&mut self, req: &Json) -> Result<&ShmSegment> {
        Ok(self.open(req)?.segment.as_ref().expect("open handle"))
    }

    fn keep(&mut self, segment: ShmSegment, owner: bool) -> Json {
        self.count += 1;
        let key = format!("s{}", self.count);
        let answer = json!({"segment": key, "name": segment.name(), "size": segment.size()});
        self.handles.insert(
            key,
            Handle {
                segment: Some(segment),
                owner,
                closed: false,
                held: Vec::new(),
            },
        );
        obj(answer)
    }

    fn shutdown(&mut self) {
        for (_, mut h) in self.handles.drain() {
            // Held batches first: the crate frees their entries, then the
            // segment drops (a created one is unlinked by the crate).
            h.held.clear();
            h.segment = None;
        }
    }

    /// The `bench` operation (docs/peer-protocol.md): every repetition timed
    /// on its own, inside the peer, after the batch file has been read.
    fn bench(&mut self, req: &Json) -> Result<Json> {
        let err = crate_err("bench");
        let action = string(req, "action")?;
        let repeat = uint(req, "repeat")?;
        if repeat == 0 {
            return Err(fail("bad_request", "repeat must be at least 1"));
        }
        let batch_of = |req: &Json| -> Result<RecordBatch> {
            let (_, batch) = read_file(string(req, "batch")?)?;
            batch
                .filter(|b| b.num_rows() > 0)
                .ok_or_else(|| fail("bad_request", "the batch file holds no batch with rows"))
        };
        let mut seconds = Vec::new();
        let bytes: u64;
        match action {
            "write" => {
                // The crate's write path, ShmSegment::allocate_and_write;
                // the free is untimed.
                let batch = batch_of(req)?;
                let seg = self.seg(req)?;
                let mut length = 0;
                for _ in 0..repeat {
                    let start = Instant::now();
                    let placed = seg.allocate_and_write(&batch).map_err(&err)?;
                    let elapsed = start.elapsed();
                    let Some((offset, len)) = placed else {
                        return Err(fail(
                            "bad_request",
                            format!("[WRITE-6] the batch does not fit in the {}-byte segment", seg.size()),
                        ));
                    };
                    seg.free(offset).map_err(&err)?;
                    seconds.push(bench::secs(elapsed));
                    length = len as u64;
                }
                bytes = length;
            }
            "resolve" => {
                // The crate's resolve path, shm::resolve_shm_batch (zero-copy
                // for stream-framed regions), plus the touch. The crate frees
                // a zero-copy batch's entry when its last buffer drops: the
                // drop is untimed, and the entry is then re-placed at its
                // offset (replace_entry) so the harness's region stays listed.
                let (schema, _) = read_file(string(req, "batch")?)?;
                let (offset, length) = (uint(req, "offset")?, usize_arg(req, "length")?);
                let (pointer_batch, md) =
                    shm::make_shm_pointer_batch(&schema, offset, length).map_err(&err)?;
                let seg = self.seg(req)?;
                let before = seg.allocator().dump_allocs();
                let Some(&(_, entry_len)) = before.iter().find(|&&(o, _)| o == offset) else {
                    return Err(fail(
                        "bad_request",
                        format!("no entry starts at {offset}: place the region first"),
                    ));
                };
                for _ in 0..repeat {
                    let (given, given_md) = (pointer_batch.clone(), md.clone());
                    let start = Instant::now();
                    let resolved = match shm::resolve_shm_batch(given, given_md, Some(seg)) {
                        Ok(resolved) => resolved,
                        Err(e) => {
                            // A failed stream-framed decode frees the entry too.
                            let _ = replace_entry(seg.allocator(), &before, offset, entry_len);
                            return Err(err(e));
                        }
                    };
                    bench::touch(&resolved.batch);
                    let elapsed = start.elapsed();
                    drop(resolved);
                    replace_entry(seg.allocator(), &before, offset, entry_len)?;
                    seconds.push(bench::secs(elapsed));
                }
                bytes = length as u64;
            }
            "memcpy" => {
                let length = usize_arg(req, "length")?;
                let seg = self.seg(req)?;
                if bench::DATA_START
                    .checked_add(length)
                    .is_none_or(|end| end > seg.size())
                {
                    return Err(fail(
                        "out_of_bounds",
                        format!(
                            "{length} bytes from {} do not fit in the {}-byte segment",
                            bench::DATA_START,
                            seg.size()
                        ),
                    ));
                }
                let mapping = Mapping::open(seg.name(), seg.size())?;
                let src = bench::private_buffer(length);
                // SAFETY: bounds checked above; the private buffer is not in the mapping.
                seconds = unsafe {
                    bench::time_memcpy(mapping.ptr.add(bench::DATA_START), &src, repeat)
                };
                bytes = length as u64;
            }
            "pipe_write" => {
                let batch = batch_of(req)?;
                (seconds, bytes) =
                    bench::pipe_write(string(req, "path")?, &batch, repeat).map_err(bench_err)?;
            }
            "pipe_read" => {
                (seconds, bytes) =
                    bench::pipe_read(string(req, "path")?, repeat).map_err(bench_err)?;
            }
            other => {
                return Err(fail(
                    "bad_request",
                    format!("unknown bench action {other:?} (write, resolve, memcpy, pipe_write, pipe_read)"),
                ))
            }
        }
        Ok(obj(json!({"seconds": seconds, "bytes": bytes})))
    }

    fn op(&mut self, op: &str, req: &Json) -> Result<Json> {
        let err = crate_err(op);
        let answer = match op {
            "hello" => json!({
                "name": NAME,
                "version": CRATE_VERSION,
                "language": "rust",
                "protocol": 1,
                "arrow": {"library": "arrow-rs", "version": ARROW_VERSION},
                "capabilities": CAPABILITIES,
                "min_batch_bytes": min_batch_bytes(),
            }),
            "shutdown" => {
                self.shutdown();
                json!({})
            }
            "create" => {
                string(req, "name")?; // the crate picks its own name
                let segment = ShmSegment::create(usize_arg(req, "size")?).map_err(err)?;
                return Ok(self.keep(segment, true));
            }
            "attach" => {
                let name = string(req, "name")?;
                let size = match req.get("size") {
                    None | Some(Value::Null) => object_size(name)?,
                    Some(_) => usize_arg(req, "size")?,
                };
                let segment = ShmSegment::attach(name, size, false).map_err(err)?;
                return Ok(self.keep(segment, false));
            }
            "close" => {
                let h = self.handle(req)?;
                h.closed = true;
                if !h.owner {
                    h.held.clear();
                    h.segment = None;
                }
                json!({})
            }
            "unlink" => {
                let h = self.handle(req)?;
                if !h.owner {
                    return Err(fail("bad_request", "[LIFE-10] the segment was attached, not created: an attacher never unlinks"));
                }
                h.held.clear();
                h.segment = None; // the crate unmaps and unlinks the owner's segment on drop
                h.closed = true;
                json!({})
            }
            "header" => {
                let length = usize_arg(req, "length")?;
                let seg = self.seg(req)?;
                let bytes = seg.read_bytes(0, length.min(seg.size())).map_err(err)?;
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                json!({ "hex": hex })
            }
            "write" => {
                let (_, batch) = read_file(string(req, "batch")?)?;
                let batch = batch.filter(|b| b.num_rows() > 0).ok_or_else(|| {
                    fail("bad_request", "[WRITE-4] zero-row batch: vgi_rpc::shm::maybe_write_to_shm never writes one")
                })?;
                match self.seg(req)?.allocate_and_write(&batch).map_err(err)? {
                    Some((offset, length)) => json!({"offset": offset, "length": length}),
                    None => json!({"offset": null, "length": null}),
                }
            }
            "resolve" => {
                let batch = read_batch_or_empty(string(req, "batch")?)?;
                let md = metadata(req)?;
                let out = string(req, "out")?;
                let is_pointer = shm::is_shm_pointer_batch(&batch, &md);
                // The offset the crate's zero-copy path frees on drop, parsed as the crate parses it.
                let pointer_offset = md.get(SHM_OFFSET_KEY).and_then(|s| s.parse::<u64>().ok());
                let h = self.open(req)?;
                let resolved =
                    shm::resolve_shm_batch(batch, md, h.segment.as_ref()).map_err(err)?;
                save(out, &resolved.batch)?;
                let release = match resolved.release_offset {
                    Some(offset) => Some(offset),
                    None if is_pointer => {
                        let offset = pointer_offset.expect("the crate resolved this offset");
                        h.held.push((offset, resolved.batch));
                        Some(offset)
                    }
                    None => None,
                };
                json!({"pointer": is_pointer, "metadata": md_json(&resolved.metadata), "release_offset": release})
            }
            "allocate" => {
                json!({ "offset": self.seg(req)?.allocator().allocate(usize_arg(req, "size")?) })
            }
            "free" => {
                let offset = uint(req, "offset")?;
                let h = self.open(req)?;
                let seg = h.segment.as_ref().expect("open handle");
                if let Some(i) = h.held.iter().position(|(o, _)| *o == offset) {
                    // The crate frees a zero-copy batch's entry when the batch drops.
                    let before = seg.allocator().dump_allocs();
                    drop(h.held.remove(i));
                    if seg.allocator().dump_allocs() != before {
                        return Ok(Json::new());
                    }
                }
                seg.allocator().free(offset).map_err(err)?;
                json!({})
            }
            "allocations" => json!({ "entries": self.seg(req)?.allocator().dump_allocs() }),
            "shrink" => {
                let (offset, length) = (uint(req, "offset")?, usize_arg(req, "length")?);
                self.seg(req)?
                    .allocator()
                    .shrink(offset, length)
                    .map_err(err)?;
                json!({})
            }
            "reset" => {
                self.seg(req)?.reset();
                json!({})
            }
            "read" => {
                let (schema, _) = read_file(string(req, "schema")?)?;
                let (offset, length, out) = (
                    uint(req, "offset")?,
                    usize_arg(req, "length")?,
                    string(req, "out")?,
                );
                let h = self.open(req)?;
                let seg = h.segment.as_ref().expect("open handle");
                let batch = seg.read_batch(offset, length, &schema).map_err(err)?;
                save(out, &batch)?;
                let rows = batch.num_rows();
                h.held.push((offset, batch));
                json!({ "rows": rows })
            }
            "make_pointer" => {
                let (schema, _) = read_file(string(req, "schema")?)?;
                let (offset, length) = (uint(req, "offset")?, usize_arg(req, "length")?);
                let (batch, md) =
                    shm::make_shm_pointer_batch(&schema, offset, length).map_err(err)?;
                save(string(req, "out")?, &batch)?;
                json!({ "metadata": md_json(&md) })
            }
            "maybe_write" => {
                let batch = read_batch_or_empty(string(req, "batch")?)?;
                let md = metadata(req)?;
                let out = string(req, "out")?;
                let rows = batch.num_rows();
                let (result, md) =
                    shm::maybe_write_to_shm(batch, md, Some(self.seg(req)?)).map_err(err)?;
                save(out, &result)?;
                json!({"pointer": rows > 0 && result.num_rows() == 0, "metadata": md_json(&md)})
            }
            "bench" => return self.bench(req),
            other => {
                return Err(fail(
                    "unsupported",
                    format!("unknown or unsupported op {other:?}"),
                ))
            }
        };
        Ok(obj(answer))
    }
}

/// The crate's size gate (WRITE-5), for `hello`: the crate keeps it private,
/// so this repeats its documented rule (128 KiB on POSIX, overridable with
/// `VGI_RPC_SHM_MIN_BATCH_BYTES`), measured as `get_array_memory_size`.
fn min_batch_bytes() -> usize {
    std::env::var("VGI_RPC_SHM_MIN_BATCH_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(128 * 1024)
}

// --- the loop -------------------------------------------------------------------

fn error_response(id: Value, f: &Failure) -> Value {
    json!({"id": id, "ok": false, "error": {"kind": f.kind, "message": f.message}})
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
                error_response(
                    Value::Null,
                    &fail("bad_request", "a request is a JSON object"),
                ),
                false,
            )
        }
        Err(e) => {
            return (
                error_response(
                    Value::Null,
                    &fail("bad_request", format!("not a JSON line: {e}")),
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
        Err(fail(
            "internal",
            format!(
                "panic in vgi-rpc while answering {op}: {}",
                panic_message(&*p)
            ),
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
        Err(f) => error_response(id, &f),
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
                eprintln!("vgi-rpc-rust peer: cannot read stdin: {e}");
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

#[cfg(test)]
mod tests {
    #[test]
    fn versions_match_lock() {
        let lock = include_str!("../Cargo.lock");
        for (name, version) in [
            ("vgi-rpc", super::CRATE_VERSION),
            ("arrow-ipc", super::ARROW_VERSION),
        ] {
            let needle = format!("name = \"{name}\"\nversion = \"{version}\"");
            assert!(
                lock.contains(&needle),
                "{name} {version} is not what Cargo.lock holds"
            );
        }
    }
}
