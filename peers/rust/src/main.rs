//! The `rust` conformance peer: this crate's port of the format (the `vgis`
//! library) behind the peer SDK (peers/sdk/rust), which speaks the protocol.
//! All of the format lives in the library; this file only maps ops onto it.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use vgis::pointer::{self, Metadata};
use vgis::{Segment, VgisError, ARROW_VERSION};
use vgis_peer::{manifest_capabilities, Backend, Error, Info, Kind, MaybeWritten};
use vgis_peer::{PointerBatch, Resolution, Result};

/// WRITE-5: this writer has no size gate.
const MIN_BATCH_BYTES: usize = 0;

struct Port;

/// A segment of the port, with the name and size that outlive its mapping:
/// `close` drops the mapping, `unlink` needs only the name.
struct Held {
    segment: Option<Segment>,
    name: String,
    size: u64,
}

impl Held {
    fn new(segment: Segment) -> Held {
        let (name, size) = (segment.name().to_string(), segment.size() as u64);
        Held {
            segment: Some(segment),
            name,
            size,
        }
    }

    /// The mapping; the SDK asks a closed segment nothing but `unlink`.
    fn seg(&mut self) -> &mut Segment {
        self.segment.as_mut().expect("an open segment")
    }
}

impl Backend for Port {
    type Segment = Held;

    fn info(&self) -> Info {
        let capabilities = manifest_capabilities(include_str!("../peer.toml"));
        Info::arrow_rs(
            "rust",
            env!("CARGO_PKG_VERSION"),
            ARROW_VERSION,
            &capabilities,
        )
        .with_min_batch_bytes(MIN_BATCH_BYTES as u64)
    }

    fn create(&mut self, name: &str, size: u64) -> Result<Held> {
        Ok(Held::new(Segment::create(name, size)?))
    }

    fn attach(&mut self, name: &str, size: Option<u64>) -> Result<Held> {
        Ok(Held::new(Segment::attach(name, size)?))
    }

    fn make_pointer(
        &mut self,
        schema: &SchemaRef,
        offset: u64,
        length: u64,
    ) -> Result<PointerBatch> {
        Ok(pointer::make_pointer(schema, offset, length)?)
    }

    fn empty_batch(&self, schema: &SchemaRef) -> Result<RecordBatch> {
        Ok(pointer::empty_batch(schema)?)
    }

    /// The port's rejections carry their kind; anything else is internal.
    fn classify(&self, _op: &str, error: &(dyn std::error::Error + 'static)) -> Error {
        let kind = error.downcast_ref::<VgisError>().map(|e| e.kind);
        Error::new(kind.unwrap_or(Kind::Internal), error.to_string())
    }
}

impl vgis_peer::Segment for Held {
    fn name(&self) -> &str {
        &self.name
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn check_live(&self) -> Result<()> {
        match &self.segment {
            Some(segment) => Ok(segment.check_live()?),
            None => Ok(()),
        }
    }

    fn header(&mut self, length: u64) -> Result<Vec<u8>> {
        let bytes = self.seg().bytes();
        let n = usize::try_from(length)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        Ok(bytes[..n].to_vec())
    }

    fn close(&mut self) -> Result<()> {
        self.segment = None;
        Ok(())
    }

    fn unlink(&mut self) -> Result<()> {
        Ok(vgis::segment::unlink_name(&self.name)?)
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<Option<(u64, u64)>> {
        Ok(self.seg().write_batch(batch)?)
    }

    fn resolve(&mut self, batch: RecordBatch, metadata: Metadata) -> Result<Resolution> {
        let resolved = pointer::resolve(batch, metadata, self.seg())?;
        Ok(Resolution {
            pointer: resolved.release_offset.is_some(),
            batch: resolved.batch,
            metadata: resolved.metadata,
            release_offset: resolved.release_offset,
        })
    }

    fn allocate(&mut self, size: u64) -> Result<Option<u64>> {
        Ok(self.seg().allocator().allocate(size)?)
    }

    fn free(&mut self, offset: u64) -> Result<()> {
        Ok(self.seg().allocator().free(offset)?)
    }

    fn allocations(&mut self) -> Result<Vec<(u64, u64)>> {
        Ok(self.seg().allocator().entries())
    }

    fn shrink(&mut self, offset: u64, length: u64) -> Result<()> {
        Ok(self.seg().allocator().shrink(offset, length)?)
    }

    fn reset(&mut self) -> Result<()> {
        self.seg().allocator().reset();
        Ok(())
    }

    fn read(&mut self, offset: u64, length: u64, schema: &SchemaRef) -> Result<RecordBatch> {
        Ok(self.seg().read_batch(offset, length, schema)?)
    }

    fn maybe_write(&mut self, batch: RecordBatch, metadata: Metadata) -> Result<MaybeWritten> {
        let (batch, metadata, pointer) =
            pointer::maybe_write(batch, metadata, self.seg(), MIN_BATCH_BYTES)?;
        Ok(MaybeWritten {
            batch,
            metadata,
            pointer,
        })
    }

    fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        self.segment.as_mut().map(|s| s.bytes_mut())
    }
}

fn main() {
    vgis_peer::run(Port);
}
