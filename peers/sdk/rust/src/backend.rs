//! What a peer implements: a [`Backend`] (the library under test) and its
//! [`Segment`]s, one method per op. The optional ops default to
//! `unsupported`; the SDK answers them only when their capability is declared.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::{unsupported, Error, Kind, Result};
use crate::request::Metadata;
use crate::shm::Mapping;
use crate::timing::{private_buffer, time_memcpy, touch, Stopwatch, DATA_START};

/// What `hello` reports besides the protocol version.
pub struct Info {
    pub name: String,
    pub version: String,
    pub language: String,
    pub arrow_library: String,
    pub arrow_version: String,
    /// Equal to peer.toml's list (the harness refuses a peer whose two lists
    /// differ), in its order.
    pub capabilities: Vec<&'static str>,
    /// The size gate of `maybe_write` (WRITE-5), `None` when there is none.
    pub min_batch_bytes: Option<u64>,
}

impl Info {
    /// A Rust peer over arrow-rs, with no size gate.
    pub fn arrow_rs(
        name: &str,
        version: &str,
        arrow_version: &str,
        capabilities: &[&'static str],
    ) -> Info {
        Info {
            name: name.into(),
            version: version.into(),
            language: "rust".into(),
            arrow_library: "arrow-rs".into(),
            arrow_version: arrow_version.into(),
            capabilities: capabilities.to_vec(),
            min_batch_bytes: None,
        }
    }

    /// With the size gate of `maybe_write`.
    pub fn with_min_batch_bytes(self, min_batch_bytes: u64) -> Info {
        Info {
            min_batch_bytes: Some(min_batch_bytes),
            ..self
        }
    }
}

/// A zero-row pointer batch and its metadata (`make_pointer`).
pub type PointerBatch = (RecordBatch, Metadata);

/// What `resolve` found.
pub struct Resolution {
    /// The resolved batch, or the input unchanged.
    pub batch: RecordBatch,
    /// The metadata after resolution.
    pub metadata: Metadata,
    /// The input was a pointer batch.
    pub pointer: bool,
    /// The offset the caller must free, `None` when there is none.
    pub release_offset: Option<u64>,
}

/// What `maybe_write` returned: a pointer batch, or the input unchanged.
pub struct MaybeWritten {
    pub batch: RecordBatch,
    pub metadata: Metadata,
    pub pointer: bool,
}

/// The library under test.
pub trait Backend {
    type Segment: Segment;

    fn info(&self) -> Info;
    /// `create`: `name` as the harness sent it; [`Segment::name`] reports the
    /// one the library used.
    fn create(&mut self, name: &str, size: u64) -> Result<Self::Segment>;
    /// `attach`: `size` is the advertised size, `None` when there is none.
    fn attach(&mut self, name: &str, size: Option<u64>) -> Result<Self::Segment>;

    /// `make_pointer` (and the bench's `resolve`): a zero-row pointer batch.
    fn make_pointer(
        &mut self,
        _schema: &SchemaRef,
        _offset: u64,
        _length: u64,
    ) -> Result<PointerBatch> {
        Err(unsupported("make_pointer"))
    }

    /// The zero-row batch that stands for a schema file's missing batch, as
    /// the library builds its pointer batches.
    fn empty_batch(&self, schema: &SchemaRef) -> Result<RecordBatch> {
        Ok(RecordBatch::new_empty(schema.clone()))
    }

    /// The kind and message of an error the library raised while answering
    /// `op` (one that reached the SDK through `?`); `internal` by default.
    fn classify(&self, _op: &str, error: &(dyn std::error::Error + 'static)) -> Error {
        Error::new(Kind::Internal, error.to_string())
    }

    /// The message of a panic caught while answering `op` (ERR-2: the peer
    /// answers `internal` and lives on).
    fn panic_message(&self, op: &str, payload: &str) -> String {
        format!("[ERR-2] panic while answering {op}: {payload}")
    }
}

/// One created or attached segment. The SDK serialises every call, calls
/// `close` at most once and `unlink` only on a created segment, at most once
/// successfully; a closed segment is asked nothing but `unlink`.
pub trait Segment {
    /// The OS name the library used.
    fn name(&self) -> &str;
    /// The mapped size.
    fn size(&self) -> u64;
    /// Called before every op on an open segment: an error answers the op
    /// (for example a mapping whose object shrank, LIFE-14).
    fn check_live(&self) -> Result<()> {
        Ok(())
    }
    /// The first `length` bytes as the library sees them.
    fn header(&mut self, length: u64) -> Result<Vec<u8>>;
    /// Unmaps; never unlinks.
    fn close(&mut self) -> Result<()>;
    /// Removes the OS object.
    fn unlink(&mut self) -> Result<()>;
    /// The library's write path; `None` when the batch does not fit.
    fn write(&mut self, batch: &RecordBatch) -> Result<Option<(u64, u64)>>;
    /// Resolves a pointer batch, or returns any other batch unchanged; never frees.
    fn resolve(&mut self, batch: RecordBatch, metadata: Metadata) -> Result<Resolution>;

    fn allocate(&mut self, _size: u64) -> Result<Option<u64>> {
        Err(unsupported("allocate"))
    }
    fn free(&mut self, _offset: u64) -> Result<()> {
        Err(unsupported("free"))
    }
    /// The allocation table as `(offset, length)` entries.
    fn allocations(&mut self) -> Result<Vec<(u64, u64)>> {
        Err(unsupported("allocations"))
    }
    fn shrink(&mut self, _offset: u64, _length: u64) -> Result<()> {
        Err(unsupported("shrink"))
    }
    fn reset(&mut self) -> Result<()> {
        Err(unsupported("reset"))
    }
    /// Decodes the region `(offset, length)` with `schema`.
    fn read(&mut self, _offset: u64, _length: u64, _schema: &SchemaRef) -> Result<RecordBatch> {
        Err(unsupported("read"))
    }
    fn maybe_write(&mut self, _batch: RecordBatch, _metadata: Metadata) -> Result<MaybeWritten> {
        Err(unsupported("maybe_write"))
    }
    /// The request metadata that advertises the segment (ADV-1).
    fn advertise(&mut self) -> Result<Metadata> {
        Err(unsupported("advertise"))
    }

    /// The whole mapping, writable, for the bench's `memcpy`; `None` when the
    /// library keeps its mapping to itself.
    fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        None
    }

    /// The bench's `memcpy`: copy `length` bytes of private memory to
    /// [`DATA_START`] (bounds checked by the SDK), each repetition timed;
    /// into [`bytes_mut`](Segment::bytes_mut), or else into a second mapping
    /// of the object by name (the same physical pages). That mapping is
    /// `second`, which the SDK keeps for the handle's life: mapped afresh
    /// per request, each one-repetition request of the harness's rounds would
    /// pay a page fault per 4 KiB that the library's own mapping, which stays,
    /// pays only once.
    fn bench_memcpy(
        &mut self,
        length: usize,
        repeat: u64,
        second: &mut Option<Mapping>,
    ) -> Result<Vec<f64>> {
        let (name, size) = (self.name().to_string(), self.size() as usize);
        let src = private_buffer(length);
        let bytes = match self.bytes_mut() {
            Some(bytes) => bytes,
            None => {
                if second.is_none() {
                    *second = Some(Mapping::open(&name, size)?);
                }
                second.as_mut().expect("mapped above").bytes_mut()
            }
        };
        Ok(time_memcpy(
            &mut bytes[DATA_START..DATA_START + length],
            &src,
            repeat,
        ))
    }

    /// The bench's `resolve` of the region at `offset`: per repetition,
    /// resolve `pointer` and touch every byte, timed; nothing is freed. A
    /// library whose resolve frees the region overrides this to put it back
    /// untimed ([`replace_entry`](crate::replace_entry)).
    fn bench_resolve(
        &mut self,
        pointer: &RecordBatch,
        metadata: &Metadata,
        _offset: u64,
        repeat: u64,
    ) -> Result<Vec<f64>> {
        let mut seconds = Vec::new();
        for _ in 0..repeat {
            let (given, given_md) = (pointer.clone(), metadata.clone());
            let clock = Stopwatch::start();
            let resolved = self.resolve(given, given_md)?;
            touch(&resolved.batch);
            seconds.push(clock.stop());
        }
        Ok(seconds)
    }
}
