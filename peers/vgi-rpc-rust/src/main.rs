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
//!
//! The protocol itself (loop, handles, files, bench) is the peer SDK's
//! (peers/sdk/rust); this file maps its ops onto the crate.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use vgi_rpc::metadata::SHM_OFFSET_KEY;
use vgi_rpc::shm::{self, ShmSegment};
use vgi_rpc::wire;
use vgi_rpc::RpcError;
use vgis_peer::shm::object_size;
use vgis_peer::{bad_request, bench_resolve_replacing, Backend, Error, Info, Kind, Metadata};
use vgis_peer::{manifest_capabilities, MaybeWritten, PointerBatch, Resolution, Result};

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

/// The kinds of the crate's `ValueError`s, by a fragment of their message.
const VALUE_ERRORS: [(&str, Kind); 12] = [
    ("no allocation at offset", Kind::NoAllocation),
    ("segment size must be >", Kind::BadRequest),
    ("shrink: new_len", Kind::BadRequest),
    ("bad SHM magic", Kind::BadHeader),
    ("unsupported SHM version", Kind::BadHeader),
    ("data_size mismatch", Kind::BadHeader),
    ("bad shm_offset", Kind::BadPointer),
    ("bad shm_length", Kind::BadPointer),
    ("out of bounds", Kind::OutOfBounds),
    ("shm offset overflow", Kind::OutOfBounds),
    ("shm region overflow", Kind::OutOfBounds),
    ("invalid shm name", Kind::BadName),
];

/// The kind of an error the crate raised while answering `op`.
fn kind_of(op: &str, e: &RpcError) -> Kind {
    let m = e.message.as_str();
    match e.error_type.as_str() {
        "ValueError" => VALUE_ERRORS
            .iter()
            .find(|(needle, _)| m.contains(needle))
            .map_or(Kind::Internal, |r| r.1),
        "IPC" | "ArrowError" => Kind::IpcError,
        "IOError" | "AlreadyExists" if op == "create" => Kind::BadName,
        "IOError" if op == "attach" && m.starts_with("shm_open") => Kind::BadName,
        "IOError" if op == "attach" && m.starts_with("mmap") => Kind::BadHeader,
        _ => Kind::Internal,
    }
}

struct Crate;

impl Backend for Crate {
    type Segment = Held;

    /// The crate's size gate (WRITE-5) is private: this repeats its documented
    /// rule (128 KiB on POSIX, overridable with `VGI_RPC_SHM_MIN_BATCH_BYTES`).
    fn info(&self) -> Info {
        let gate = std::env::var("VGI_RPC_SHM_MIN_BATCH_BYTES")
            .ok()
            .and_then(|s| s.parse().ok());
        Info::arrow_rs(
            "vgi-rpc-rust",
            CRATE_VERSION,
            ARROW_VERSION,
            &manifest_capabilities(include_str!("../peer.toml")),
        )
        .with_min_batch_bytes(gate.unwrap_or(128 * 1024))
    }

    /// The crate picks its own name.
    fn create(&mut self, _name: &str, size: u64) -> Result<Held> {
        Ok(Held::new(ShmSegment::create(size as usize)?, true))
    }

    /// The crate's attach needs a size: without one, the object's.
    fn attach(&mut self, name: &str, size: Option<u64>) -> Result<Held> {
        let size = size.map_or_else(|| object_size(name), Ok)?;
        let segment = ShmSegment::attach(name, size as usize, false)?;
        Ok(Held::new(segment, false))
    }

    fn make_pointer(
        &mut self,
        schema: &SchemaRef,
        offset: u64,
        length: u64,
    ) -> Result<PointerBatch> {
        let (batch, md) = shm::make_shm_pointer_batch(schema, offset, length as usize)?;
        Ok((batch, md.into_iter().collect()))
    }

    /// Built as the crate builds pointer batches.
    fn empty_batch(&self, schema: &SchemaRef) -> Result<RecordBatch> {
        Ok(wire::empty_batch(schema)?)
    }

    fn classify(&self, op: &str, error: &(dyn std::error::Error + 'static)) -> Error {
        match error.downcast_ref::<RpcError>() {
            Some(e) => Error::new(kind_of(op, e), format!("{}: {}", e.error_type, e.message)),
            None => Error::new(Kind::Internal, error.to_string()),
        }
    }

    fn panic_message(&self, op: &str, payload: &str) -> String {
        format!("panic in vgi-rpc while answering {op}: {payload}")
    }
}

/// A segment of the crate (gone once an attached segment is closed or a
/// created one unlinked), and the zero-copy batches decoded from it by
/// `resolve` and `read`, by region offset: the crate frees each entry when
/// its batch drops, which `free` triggers.
struct Held {
    segment: Option<ShmSegment>,
    owner: bool,
    held: Vec<(u64, RecordBatch)>,
    name: String,
}

impl Held {
    fn new(segment: ShmSegment, owner: bool) -> Held {
        let name = segment.name().to_string();
        let (segment, held) = (Some(segment), Vec::new());
        Held {
            segment,
            owner,
            held,
            name,
        }
    }

    fn seg(&self) -> Result<&ShmSegment> {
        self.segment
            .as_ref()
            .ok_or_else(|| bad_request("the segment is closed"))
    }
}

impl vgis_peer::Segment for Held {
    fn name(&self) -> &str {
        &self.name
    }

    fn size(&self) -> u64 {
        self.segment.as_ref().map_or(0, |s| s.size() as u64)
    }

    fn check_live(&self) -> Result<()> {
        self.seg().map(|_| ())
    }

    fn header(&mut self, length: u64) -> Result<Vec<u8>> {
        let seg = self.seg()?;
        Ok(seg.read_bytes(0, (length as usize).min(seg.size()))?)
    }

    /// A created segment stays mapped: the crate unlinks it when it drops.
    fn close(&mut self) -> Result<()> {
        if !self.owner {
            self.held.clear();
            self.segment = None;
        }
        Ok(())
    }

    /// Held batches first (the crate frees their entries), then the segment,
    /// which the crate unmaps and unlinks on drop.
    fn unlink(&mut self) -> Result<()> {
        self.held.clear();
        self.segment = None;
        Ok(())
    }

    /// The crate's public write path `maybe_write_to_shm` never writes a zero-row batch.
    fn write(&mut self, batch: &RecordBatch) -> Result<Option<(u64, u64)>> {
        if batch.num_rows() == 0 {
            return Err(bad_request(
                "[WRITE-4] zero-row batch: vgi_rpc::shm::maybe_write_to_shm never writes one",
            ));
        }
        let placed = self.seg()?.allocate_and_write(batch)?;
        Ok(placed.map(|(offset, length)| (offset, length as u64)))
    }

    /// `release_offset` is the offset the crate will free: its own, or for
    /// the zero-copy path the pointer's offset parsed as the crate parses it.
    fn resolve(&mut self, batch: RecordBatch, metadata: Metadata) -> Result<Resolution> {
        let md: wire::Metadata = metadata.into_iter().collect();
        let pointer = shm::is_shm_pointer_batch(&batch, &md);
        let pointer_offset = md.get(SHM_OFFSET_KEY).and_then(|s| s.parse::<u64>().ok());
        let resolved = shm::resolve_shm_batch(batch, md, self.segment.as_ref())?;
        let release_offset = match resolved.release_offset {
            None if pointer => {
                let offset = pointer_offset.expect("the crate resolved this offset");
                self.held.push((offset, resolved.batch.clone()));
                Some(offset)
            }
            other => other,
        };
        let metadata = resolved.metadata.into_iter().collect();
        Ok(Resolution {
            batch: resolved.batch,
            metadata,
            pointer,
            release_offset,
        })
    }

    fn allocate(&mut self, size: u64) -> Result<Option<u64>> {
        Ok(self.seg()?.allocator().allocate(size as usize))
    }

    /// A held batch's entry is freed by dropping the batch.
    fn free(&mut self, offset: u64) -> Result<()> {
        let seg = self
            .segment
            .as_ref()
            .ok_or_else(|| bad_request("the segment is closed"))?;
        if let Some(i) = self.held.iter().position(|(o, _)| *o == offset) {
            let before = seg.allocator().dump_allocs();
            drop(self.held.remove(i));
            if seg.allocator().dump_allocs() != before {
                return Ok(());
            }
        }
        Ok(seg.allocator().free(offset)?)
    }

    fn allocations(&mut self) -> Result<Vec<(u64, u64)>> {
        Ok(self.seg()?.allocator().dump_allocs())
    }

    fn shrink(&mut self, offset: u64, length: u64) -> Result<()> {
        Ok(self.seg()?.allocator().shrink(offset, length as usize)?)
    }

    fn reset(&mut self) -> Result<()> {
        self.seg()?.reset();
        Ok(())
    }

    fn read(&mut self, offset: u64, length: u64, schema: &SchemaRef) -> Result<RecordBatch> {
        let batch = self.seg()?.read_batch(offset, length as usize, schema)?;
        self.held.push((offset, batch.clone()));
        Ok(batch)
    }

    fn maybe_write(&mut self, batch: RecordBatch, metadata: Metadata) -> Result<MaybeWritten> {
        let rows = batch.num_rows();
        let (batch, md) =
            shm::maybe_write_to_shm(batch, metadata.into_iter().collect(), Some(self.seg()?))?;
        let (pointer, metadata) = (rows > 0 && batch.num_rows() == 0, md.into_iter().collect());
        Ok(MaybeWritten {
            batch,
            metadata,
            pointer,
        })
    }

    /// The crate's resolve path (zero-copy for stream-framed regions), whose
    /// batch frees the harness's region when it drops: put back untimed.
    fn bench_resolve(
        &mut self,
        pointer: &RecordBatch,
        metadata: &Metadata,
        offset: u64,
        repeat: u64,
    ) -> Result<Vec<f64>> {
        let md: wire::Metadata = metadata.clone().into_iter().collect();
        bench_resolve_replacing(self, offset, repeat, |held| {
            Ok(shm::resolve_shm_batch(pointer.clone(), md.clone(), held.segment.as_ref())?.batch)
        })
    }
}

fn main() {
    vgis_peer::run(Crate);
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
