//! How a batch is laid out as bytes in a region (FRAME-*).
//!
//! Two framings: a complete IPC stream (schema, dictionaries, one record
//! batch, EOS) for schemas without a top-level dictionary field (FRAME-1,
//! FRAME-4), and only the dictionary and record-batch messages for schemas
//! with one (FRAME-3): the reader rebuilds the stream around them from the
//! pointer batch's schema. Arrow (arrow-ipc's `StreamEncoder`/`StreamDecoder`,
//! default options: V5 metadata, no compression) does the encoding; the body
//! is copied once, into the region, and decoded in place.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_buffer::{ArrowNativeType, Buffer};
use arrow_data::ArrayData;
use arrow_ipc::convert::{try_fb_to_schema, try_schema_from_ipc_buffer};
use arrow_ipc::reader::{FileDecoder, StreamDecoder};
use arrow_ipc::writer::{StreamEncoder, StreamWriter};
use arrow_ipc::{root_as_message, Block, MessageHeader, MetadataVersion};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema};

use crate::error::{internal, ipc_error, schema_mismatch, Result};

/// Continuation marker + zero metadata length.
pub const EOS: [u8; 8] = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];

/// The two region framings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// FRAME-1: a complete IPC stream.
    Stream,
    /// FRAME-3: dictionary message(s) then the record-batch message.
    Messages,
}

/// True when any top-level field is dictionary-encoded (FRAME-3); nested
/// dictionaries do not count (FRAME-4).
pub fn has_top_level_dictionary(schema: &Schema) -> bool {
    schema
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Dictionary(_, _)))
}

pub fn framing_of(schema: &Schema) -> Framing {
    if has_top_level_dictionary(schema) {
        Framing::Messages
    } else {
        Framing::Stream
    }
}

fn arrow_err(clause: &'static str, what: &str, e: ArrowError) -> crate::error::VgisError {
    ipc_error(clause, format!("{what}: {e}"))
}

/// A complete IPC stream of `schema` and, when given, one batch.
pub fn encode_stream(schema: &Schema, batch: Option<&RecordBatch>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, schema)
        .map_err(|e| arrow_err("FRAME-1", "encoding the schema", e))?;
    if let Some(batch) = batch {
        writer
            .write(batch)
            .map_err(|e| arrow_err("FRAME-1", "encoding the batch", e))?;
    }
    writer
        .finish()
        .map_err(|e| arrow_err("FRAME-1", "finishing the stream", e))?;
    drop(writer);
    Ok(out)
}

/// The encapsulated schema message alone, as a FRAME-3 reader rebuilds it.
pub fn schema_message(schema: &Schema) -> Result<Vec<u8>> {
    let mut stream = encode_stream(schema, None)?;
    if !stream.ends_with(&EOS) {
        return Err(internal(
            "FRAME-3",
            "a schema-only stream does not end with EOS",
        ));
    }
    stream.truncate(stream.len() - EOS.len());
    Ok(stream)
}

/// A batch's region as Arrow's stream encoder hands it out: buffers that
/// share the batch's own memory (the body is not copied), and the window of
/// their concatenation that is the region (FRAME-3 drops the schema message
/// before it and the EOS after it). Its length is known before any byte is
/// written, so the writer reserves the exact entry and copies once.
pub struct EncodedRegion {
    parts: Vec<Buffer>,
    skip: usize,
    len: usize,
}

impl EncodedRegion {
    /// The region of `batch` in its schema's framing.
    pub fn new(batch: &RecordBatch) -> Result<EncodedRegion> {
        let schema = batch.schema();
        let err = |what, e| arrow_err("FRAME-1", what, e);
        let mut encoder =
            StreamEncoder::try_new(&schema).map_err(|e| err("encoding the schema", e))?;
        let mut parts = encoder
            .encode(batch)
            .map_err(|e| err("encoding the batch", e))?;
        parts.extend(
            encoder
                .finish()
                .map_err(|e| err("finishing the stream", e))?,
        );
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut region = EncodedRegion {
            parts,
            skip: 0,
            len: total,
        };
        if framing_of(&schema) == Framing::Messages {
            let head = schema_message(&schema)?;
            let framed = total >= head.len() + EOS.len()
                && region.window(0, head.len()) == head
                && region.window(total - EOS.len(), EOS.len()) == EOS;
            if !framed {
                return Err(internal(
                    "FRAME-3",
                    "the stream does not start with its schema message and end with EOS",
                ));
            }
            region.skip = head.len();
            region.len = total - head.len() - EOS.len();
        }
        Ok(region)
    }

    /// The region's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copy the region into `dst`, which is exactly [`len`](Self::len) bytes.
    pub fn write_to(&self, dst: &mut [u8]) {
        assert_eq!(dst.len(), self.len, "the destination is the region's size");
        self.copy_window(self.skip, dst);
    }

    /// The region as a vector (a copy; tests and small regions).
    pub fn to_vec(&self) -> Vec<u8> {
        self.window(self.skip, self.len)
    }

    fn window(&self, start: usize, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.copy_window(start, &mut out);
        out
    }

    /// Bytes `[start, start + dst.len())` of the concatenated parts into `dst`.
    fn copy_window(&self, start: usize, dst: &mut [u8]) {
        let (mut at, mut filled) = (0, 0);
        for part in &self.parts {
            let bytes = part.as_slice();
            let (lo, hi) = (start + filled, start + dst.len());
            if filled < dst.len() && at + bytes.len() > lo {
                let from = lo - at;
                let n = (bytes.len() - from).min(hi - lo);
                dst[filled..filled + n].copy_from_slice(&bytes[from..from + n]);
                filled += n;
            }
            at += bytes.len();
        }
        debug_assert_eq!(filled, dst.len());
    }
}

/// The region bytes of `batch` in its schema's framing.
pub fn encode_region(batch: &RecordBatch) -> Result<Vec<u8>> {
    Ok(EncodedRegion::new(batch)?.to_vec())
}

/// Agreement of two schemas (PTR-11): field order, names, nullability and
/// types, nested fields and dictionary index/value types included. Custom
/// metadata, of the schema or of any field, is not compared.
pub fn schemas_agree(a: &Schema, b: &Schema) -> bool {
    fields_agree(a.fields(), b.fields())
}

fn fields_agree(a: &Fields, b: &Fields) -> bool {
    a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| field_agrees(x, y))
}

fn field_agrees(a: &Field, b: &Field) -> bool {
    a.name() == b.name()
        && a.is_nullable() == b.is_nullable()
        && types_agree(a.data_type(), b.data_type())
}

fn types_agree(a: &DataType, b: &DataType) -> bool {
    use DataType as T;
    match (a, b) {
        (T::List(x), T::List(y))
        | (T::LargeList(x), T::LargeList(y))
        | (T::ListView(x), T::ListView(y))
        | (T::LargeListView(x), T::LargeListView(y)) => field_agrees(x, y),
        (T::FixedSizeList(x, n), T::FixedSizeList(y, m)) => n == m && field_agrees(x, y),
        (T::Struct(x), T::Struct(y)) => fields_agree(x, y),
        (T::Map(x, s), T::Map(y, t)) => s == t && field_agrees(x, y),
        (T::Union(x, m), T::Union(y, n)) => {
            m == n
                && x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((i, f), (j, g))| i == j && field_agrees(f, g))
        }
        (T::Dictionary(k, v), T::Dictionary(l, w)) => types_agree(k, l) && types_agree(v, w),
        (T::RunEndEncoded(r, v), T::RunEndEncoded(s, w)) => {
            field_agrees(r, s) && field_agrees(v, w)
        }
        _ => a == b,
    }
}

/// Decode the first record batch of a region, given the pointer batch's
/// schema. Bytes after the first record batch are ignored (FRAME-6). The
/// region is copied first; [`decode_region_buffer`] decodes in place.
pub fn decode_region(region: &[u8], schema: &Schema) -> Result<RecordBatch> {
    decode_region_buffer(Buffer::from(region), schema)
}

/// The end of the encapsulated message at the start of `bytes` (continuation
/// marker or not), when its length prefix is there.
fn first_message_end(bytes: &[u8]) -> Option<usize> {
    let prefix = if bytes.get(..4)? == [0xFF; 4] { 8 } else { 4 };
    let len = i32::from_le_bytes(bytes.get(prefix - 4..prefix)?.try_into().ok()?);
    Some(prefix + usize::try_from(len).ok()?)
}

/// [`decode_region`] over a region that Arrow can share: the batch's buffers
/// are slices of `region` (zero-copy; an unaligned buffer is copied by Arrow),
/// and the decoded arrays get the whole of Arrow's validation (`validate_full`).
///
/// Arrow checks the offsets of text and binary arrays one at a time, several
/// times slower than reading the bytes. So a region is first decoded with
/// Arrow's validation off and checked by [`validate`], the same checks with a
/// fast loop for those offsets; anything that fails there (an error or one of
/// Arrow's assertions) is decoded again by Arrow's validating decoder, whose
/// verdict and message are the answer.
pub fn decode_region_buffer(region: Buffer, schema: &Schema) -> Result<RecordBatch> {
    // Arrow realigns a misaligned buffer it decodes, but asserts on a union's
    // own: a region not on 8 bytes (inside it IPC puts every buffer on 8) is
    // decoded from an aligned copy, as every region was before.
    let region = if region.as_ptr().align_offset(8) == 0 {
        region
    } else {
        Buffer::from(region.as_slice())
    };
    let fast = catch_unwind(AssertUnwindSafe(|| decode_unchecked(&region, schema)));
    match fast {
        Ok(Some(batch)) => Ok(batch),
        _ => decode_checked(region, schema),
    }
}

/// Arrow's validating stream decoder over the region.
fn decode_checked(mut region: Buffer, schema: &Schema) -> Result<RecordBatch> {
    let mut decoder = StreamDecoder::new();
    let clause = match framing_of(schema) {
        Framing::Stream => {
            // The schema is compared before the batch is decoded, so a region of
            // another schema is a mismatch whatever its body holds.
            let end = first_message_end(&region).unwrap_or(region.len());
            let found =
                try_schema_from_ipc_buffer(&region[..end.min(region.len())]).map_err(|e| {
                    arrow_err(
                        "FRAME-1",
                        "the region does not start with a valid schema message",
                        e,
                    )
                })?;
            if !schemas_agree(&found, schema) {
                return Err(schema_mismatch(
                    "PTR-11",
                    format!("region schema {found} differs from pointer schema {schema}"),
                ));
            }
            "FRAME-1"
        }
        Framing::Messages => {
            let mut head = Buffer::from_vec(schema_message(schema)?);
            decoder
                .decode(&mut head)
                .map_err(|e| arrow_err("FRAME-3", "the pointer schema", e))?;
            "FRAME-3"
        }
    };
    let invalid = |e| arrow_err(clause, "the region is not valid IPC", e);
    let mut batch = decoder.decode(&mut region).map_err(invalid)?;
    if batch.is_none() && clause == "FRAME-3" {
        // A last message with an empty body completes only once more bytes
        // arrive: the EOS a rebuilt stream would end with.
        batch = decoder
            .decode(&mut Buffer::from(EOS.as_slice()))
            .map_err(invalid)?;
    }
    batch.ok_or_else(|| ipc_error(clause, "the region holds no record batch"))
}

/// One encapsulated message of a region: `header` bytes (a `prefix` of
/// continuation marker and length, then the metadata) and `body` bytes, from
/// `start`.
struct Frame {
    start: usize,
    prefix: usize,
    header: usize,
    body: usize,
}

impl Frame {
    fn metadata<'a>(&self, region: &'a [u8]) -> &'a [u8] {
        &region[self.start + self.prefix..self.start + self.header]
    }

    fn end(&self) -> usize {
        self.start + self.header + self.body
    }
}

/// The message at `at`, `None` at an EOS or the region's end; `None` also
/// for anything malformed, which the checked decoder then reports.
fn frame_at(region: &[u8], at: usize) -> Option<Frame> {
    let rest = region.get(at..)?;
    let prefix = if rest.get(..4)? == [0xFF; 4] { 8 } else { 4 };
    let len = usize::try_from(i32::from_le_bytes(
        rest.get(prefix - 4..prefix)?.try_into().ok()?,
    ))
    .ok()?;
    if len == 0 {
        return None;
    }
    let message = root_as_message(rest.get(prefix..prefix + len)?).ok()?;
    let body = usize::try_from(message.bodyLength()).ok()?;
    let header = prefix + len;
    rest.get(..header.checked_add(body)?)?;
    Some(Frame {
        start: at,
        prefix,
        header,
        body,
    })
}

/// The first record batch of the region decoded with Arrow's validation off,
/// then checked by [`validate`]; `None` when it cannot be, for
/// [`decode_checked`] to answer.
fn decode_unchecked(region: &Buffer, schema: &Schema) -> Option<RecordBatch> {
    let mut at = 0;
    let schema = match framing_of(schema) {
        Framing::Stream => {
            let frame = frame_at(region, 0)?;
            let found = root_as_message(frame.metadata(region))
                .ok()
                .and_then(|m| m.header_as_schema())
                .and_then(|s| try_fb_to_schema(s).ok());
            let found = found.filter(|found| schemas_agree(found, schema))?;
            at = frame.end();
            Arc::new(found)
        }
        Framing::Messages => Arc::new(schema.clone()),
    };
    // V1 turns off the decoder's check that every message has one version,
    // which Arrow's stream decoder does not make either.
    let decoder = FileDecoder::new(schema.clone(), MetadataVersion::V1);
    // SAFETY: nothing reads the decoded arrays before `validate` has run
    // Arrow's checks (or their equivalent) on every one of them.
    let mut decoder = unsafe { decoder.with_skip_validation(true) };
    while let Some(frame) = frame_at(region, at) {
        let message = region.slice_with_length(frame.start, frame.header + frame.body);
        let header = i32::try_from(frame.header).ok()?;
        let block = Block::new(0, header, i64::try_from(frame.body).ok()?);
        match root_as_message(frame.metadata(region)).ok()?.header_type() {
            MessageHeader::DictionaryBatch => decoder.read_dictionary(&block, &message).ok()?,
            MessageHeader::RecordBatch => {
                let batch = decoder.read_record_batch(&block, &message).ok()??;
                return validate(batch, &schema).ok();
            }
            _ => return None,
        }
        at = frame.end();
    }
    None
}

/// What Arrow's `validate_full` checks of every column, then the batch's own
/// invariants (types, lengths) rebuilt through `RecordBatch::try_new`.
fn validate(
    batch: RecordBatch,
    schema: &Arc<Schema>,
) -> std::result::Result<RecordBatch, ArrowError> {
    for column in batch.columns() {
        validate_data(&column.to_data())?;
    }
    let columns: Vec<ArrayRef> = batch.columns().to_vec();
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(schema.clone(), columns, &options)
}

/// `ArrayData::validate_full`, with the values of text and binary arrays
/// checked by [`check_offsets`] instead of Arrow's per-offset loop.
fn validate_data(data: &ArrayData) -> std::result::Result<(), ArrowError> {
    data.validate()?;
    data.validate_nulls()?;
    match data.data_type() {
        DataType::Utf8 => check_offsets::<i32>(data, true)?,
        DataType::LargeUtf8 => check_offsets::<i64>(data, true)?,
        DataType::Binary => check_offsets::<i32>(data, false)?,
        DataType::LargeBinary => check_offsets::<i64>(data, false)?,
        _ => data.validate_values()?,
    }
    data.child_data().iter().try_for_each(validate_data)
}

/// Every offset of the array (null slots too) within its values buffer and
/// none smaller than the one before, and for text the bytes between the first
/// and last offset valid UTF-8 with every offset on a character boundary: what
/// Arrow's `validate_values` checks for these types (any failure sends the
/// region to the checked decoder, whose message is the answer).
fn check_offsets<T: ArrowNativeType + Into<i64>>(
    data: &ArrayData,
    utf8: bool,
) -> std::result::Result<(), ArrowError> {
    let fail = || {
        Err(ArrowError::InvalidArgumentError(
            "bad offsets or UTF-8".into(),
        ))
    };
    let (Some(offsets), Some(values)) = (data.buffers().first(), data.buffers().get(1)) else {
        return fail();
    };
    let offsets = offsets.typed_data::<T>();
    let Some(offsets) = offsets.get(data.offset()..data.offset() + data.len() + 1) else {
        return fail();
    };
    let (first, last): (i64, i64) = (offsets[0].into(), offsets[offsets.len() - 1].into());
    // Branch-free, so that it vectorises: with the first offset not negative
    // and none smaller than the one before, all lie in [first, last].
    let descending = offsets[1..]
        .iter()
        .zip(&offsets[..offsets.len() - 1])
        .fold(false, |bad, (&b, &a)| bad | (b.into() < a.into()));
    if first < 0 || descending || last > values.len() as i64 {
        return fail();
    }
    let (first, last) = (first as usize, last as usize);
    if utf8 {
        let span = &values.as_slice()[first..last];
        if !span.is_ascii() {
            if std::str::from_utf8(span).is_err() {
                return fail();
            }
            let inside = offsets
                .iter()
                .map(|o| o.as_usize() - first)
                .filter(|&o| o < span.len());
            if inside.into_iter().any(|o| (span[o] & 0xC0) == 0x80) {
                return fail();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow_array::types::Int8Type;
    use arrow_array::{Array, DictionaryArray, Int32Array, StringArray};

    fn plain() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, true)]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int32Array::from(vec![Some(1), None, Some(3)]))],
        )
        .unwrap()
    }

    fn dict() -> RecordBatch {
        let values: DictionaryArray<Int8Type> = vec!["x", "y", "x"].into_iter().collect();
        let schema = Arc::new(Schema::new(vec![Field::new(
            "d",
            values.data_type().clone(),
            true,
        )]));
        RecordBatch::try_new(schema, vec![Arc::new(values)]).unwrap()
    }

    #[test]
    fn stream_framing_round_trips_and_ignores_trailing_bytes() {
        let batch = plain();
        let mut region = encode_region(&batch).unwrap();
        assert!(region.ends_with(&EOS));
        assert_eq!(region.len() % 8, 0);
        region.extend_from_slice(b"trailing garbage");
        assert_eq!(decode_region(&region, &batch.schema()).unwrap(), batch);
    }

    #[test]
    fn message_framing_has_no_schema_and_no_eos() {
        let batch = dict();
        let region = encode_region(&batch).unwrap();
        assert!(!region.ends_with(&EOS));
        let full = encode_stream(&batch.schema(), Some(&batch)).unwrap();
        assert_eq!(
            full.len(),
            schema_message(&batch.schema()).unwrap().len() + region.len() + EOS.len()
        );
        assert_eq!(decode_region(&region, &batch.schema()).unwrap(), batch);
    }

    /// The single-copy encoder lays out exactly what Arrow's stream writer
    /// writes, sliced arrays and both framings included.
    #[test]
    fn encoded_region_is_the_stream_writers_bytes() {
        let strings: StringArray = (0..100).map(|i| Some(format!("s{i}"))).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let wide = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from((0..100).collect::<Vec<i32>>())),
                Arc::new(strings),
            ],
        )
        .unwrap();
        for batch in [
            plain(),
            wide.clone(),
            wide.slice(7, 50),
            dict(),
            dict().slice(1, 2),
        ] {
            let full = encode_stream(&batch.schema(), Some(&batch)).unwrap();
            let region = EncodedRegion::new(&batch).unwrap();
            let expected = match framing_of(&batch.schema()) {
                Framing::Stream => full,
                Framing::Messages => {
                    let head = schema_message(&batch.schema()).unwrap().len();
                    full[head..full.len() - EOS.len()].to_vec()
                }
            };
            assert_eq!(region.len(), expected.len());
            assert_eq!(region.to_vec(), expected);
            let mut dst = vec![0u8; region.len()];
            region.write_to(&mut dst);
            assert_eq!(dst, expected);
            assert_eq!(decode_region(&dst, &batch.schema()).unwrap(), batch);
        }
    }

    /// A stream-framed region decodes in place: every buffer of the batch lies
    /// inside the region's buffer.
    #[test]
    fn stream_framing_decodes_without_copying() {
        let strings: StringArray = (0..1000).map(|i| Some(format!("v{i}"))).collect();
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(strings)]).unwrap();
        let region = Buffer::from_vec(encode_region(&batch).unwrap());
        let range = region.as_ptr() as usize..region.as_ptr() as usize + region.len();
        let decoded = decode_region_buffer(region.clone(), &batch.schema()).unwrap();
        assert_eq!(decoded, batch);
        for buffer in decoded.column(0).to_data().buffers() {
            assert!(
                range.contains(&(buffer.as_ptr() as usize)),
                "a copied buffer"
            );
        }
    }

    /// Bad UTF-8 or offsets that pass the fast decoder's structure are still
    /// rejected as Arrow's validation rejects them.
    #[test]
    fn fast_decoder_rejects_what_arrow_rejects() {
        let strings = StringArray::from(vec!["ab", "zzzz", "cd"]);
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(strings)]).unwrap();
        let region = encode_region(&batch).unwrap();
        let find = |needle: &[u8]| {
            region
                .windows(needle.len())
                .position(|w| w == needle)
                .unwrap()
        };
        let mut bad_utf8 = region.clone();
        bad_utf8[find(b"zzzz") + 1] = 0xFF;
        let mut bad_offset = region.clone();
        let offsets: Vec<u8> = [0i32, 2, 6, 8]
            .iter()
            .flat_map(|o| o.to_le_bytes())
            .collect();
        bad_offset[find(&offsets) + 8] = 9; // 9 > 8 and then 9 > 8: descending
        let mut past_end = region.clone();
        past_end[find(&offsets) + 12] = 200;
        for bad in [bad_utf8, bad_offset, past_end] {
            let err = decode_region(&bad, &schema).unwrap_err();
            assert_eq!(err.kind, crate::error::Kind::IpcError, "{err}");
            let buffer = Buffer::from(bad.as_slice());
            assert!(decode_unchecked(&buffer, &schema).is_none());
        }
        let ok = decode_unchecked(&Buffer::from(region.as_slice()), &schema);
        assert_eq!(ok.unwrap(), batch);
    }

    /// A region placed off 8-byte alignment (FRAME-10) decodes, unions too.
    #[test]
    fn misaligned_regions_decode() {
        use arrow_array::UnionArray;
        use arrow_buffer::ScalarBuffer;
        use arrow_schema::{UnionFields, UnionMode};
        let fields = UnionFields::try_new(
            vec![0, 1],
            vec![
                Field::new("i", DataType::Int32, true),
                Field::new("s", DataType::Utf8, true),
            ],
        )
        .unwrap();
        let union = UnionArray::try_new(
            fields.clone(),
            ScalarBuffer::from(vec![0i8, 1, 0]),
            Some(ScalarBuffer::from(vec![0i32, 0, 1])),
            vec![
                Arc::new(Int32Array::from(vec![7, 8])),
                Arc::new(StringArray::from(vec!["u"])),
            ],
        )
        .unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new(
            "u",
            DataType::Union(fields, UnionMode::Dense),
            false,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(union)]).unwrap();
        let region = encode_region(&batch).unwrap();
        for skew in [1, 4] {
            let mut bytes = vec![0u8; skew];
            bytes.extend_from_slice(&region);
            let placed = Buffer::from_vec(bytes).slice(skew);
            assert_eq!(decode_region_buffer(placed, &schema).unwrap(), batch);
        }
    }

    #[test]
    fn broken_regions_are_ipc_errors() {
        let batch = plain();
        let region = encode_region(&batch).unwrap();
        for bad in [
            vec![0u8; 64],
            region[..region.len() / 2].to_vec(),
            vec![0xFF; 16],
            vec![],
        ] {
            let err = decode_region(&bad, &batch.schema()).unwrap_err();
            assert_eq!(err.kind, crate::error::Kind::IpcError, "{bad:?}");
        }
        let other = Schema::new(vec![Field::new("b", DataType::Utf8, true)]);
        let err = decode_region(&region, &other).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::SchemaMismatch);
        let _ = StringArray::from(vec!["unused"]);
    }

    #[test]
    fn framings_are_not_interchangeable() {
        let batch = dict();
        let full = encode_stream(&batch.schema(), Some(&batch)).unwrap();
        let err = decode_region(&full, &batch.schema()).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::IpcError, "{err}");
        let messages = encode_region(&batch).unwrap();
        let plain_schema = Schema::new(vec![Field::new("d", DataType::Utf8, true)]);
        let err = decode_region(&messages, &plain_schema).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::IpcError, "{err}");
    }

    #[test]
    fn metadata_is_not_compared_but_nested_names_are() {
        use std::collections::HashMap;
        let md: HashMap<String, String> = [("k".to_string(), "v".to_string())].into();
        let inner = Field::new("x", DataType::Int32, true);
        let a = Schema::new(vec![Field::new(
            "s",
            DataType::Struct(vec![inner.clone()].into()),
            true,
        )]);
        let b = Schema::new_with_metadata(
            vec![Field::new(
                "s",
                DataType::Struct(vec![inner.clone().with_metadata(md.clone())].into()),
                true,
            )
            .with_metadata(md.clone())],
            md,
        );
        assert!(schemas_agree(&a, &b));
        let c = Schema::new(vec![Field::new(
            "s",
            DataType::Struct(vec![Field::new("y", DataType::Int32, true)].into()),
            true,
        )]);
        assert!(!schemas_agree(&a, &c));
        let d = Schema::new(vec![Field::new(
            "s",
            DataType::Struct(vec![inner.with_nullable(false)].into()),
            true,
        )]);
        assert!(!schemas_agree(&a, &d));
    }
}
