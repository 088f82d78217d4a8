//! How a batch is laid out as bytes in a region (FRAME-*).
//!
//! Two framings: a complete IPC stream (schema, dictionaries, one record
//! batch, EOS) for schemas without a top-level dictionary field (FRAME-1,
//! FRAME-4), and only the dictionary and record-batch messages for schemas
//! with one (FRAME-3): the reader rebuilds the stream around them from the
//! pointer batch's schema. Arrow (arrow-ipc's `StreamWriter`/`StreamReader`,
//! default options: V5 metadata, no compression) does the encoding.

use std::io::Cursor;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
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

/// The region bytes of `batch` in its schema's framing.
pub fn encode_region(batch: &RecordBatch) -> Result<Vec<u8>> {
    let schema = batch.schema();
    let full = encode_stream(&schema, Some(batch))?;
    if framing_of(&schema) == Framing::Stream {
        return Ok(full);
    }
    let head = schema_message(&schema)?;
    if !full.starts_with(&head) || !full.ends_with(&EOS) || full.len() < head.len() + EOS.len() {
        return Err(internal(
            "FRAME-3",
            "the stream does not start with its schema message and end with EOS",
        ));
    }
    Ok(full[head.len()..full.len() - EOS.len()].to_vec())
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
/// schema. Bytes after the first record batch are ignored (FRAME-6).
pub fn decode_region(region: &[u8], schema: &Schema) -> Result<RecordBatch> {
    let (source, clause) = match framing_of(schema) {
        Framing::Stream => (None, "FRAME-1"),
        Framing::Messages => {
            let mut rebuilt = schema_message(schema)?;
            rebuilt.reserve(region.len() + EOS.len());
            rebuilt.extend_from_slice(region);
            rebuilt.extend_from_slice(&EOS);
            (Some(rebuilt), "FRAME-3")
        }
    };
    let bytes: &[u8] = source.as_deref().unwrap_or(region);
    let mut reader = StreamReader::try_new(Cursor::new(bytes), None).map_err(|e| {
        arrow_err(
            clause,
            "the region does not start with a valid schema message",
            e,
        )
    })?;
    if !schemas_agree(&reader.schema(), schema) {
        return Err(schema_mismatch(
            "PTR-11",
            format!(
                "region schema {} differs from pointer schema {}",
                reader.schema(),
                schema
            ),
        ));
    }
    match reader.next() {
        Some(Ok(batch)) => Ok(batch),
        Some(Err(e)) => Err(arrow_err(clause, "the region is not valid IPC", e)),
        None => Err(ipc_error(clause, "the region holds no record batch")),
    }
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
