//! Pointer batches (PTR-*): make, recognise, resolve, maybe-write.
//!
//! Custom metadata travels beside the batch as a string map, as the peer
//! protocol passes it; keys the format does not own pass through untouched.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{new_empty_array, RecordBatch, RecordBatchOptions};
use arrow_schema::Schema;

use crate::error::{bad_pointer, internal, Result};
use crate::segment::Segment;

pub const OFFSET_KEY: &str = "vgi_rpc.shm_offset";
pub const LENGTH_KEY: &str = "vgi_rpc.shm_length";
pub const SOURCE_KEY: &str = "vgi_rpc.shm_source";
pub const LOG_LEVEL_KEY: &str = "vgi_rpc.log_level";
pub const SEGMENT_NAME_KEY: &str = "vgi_rpc.shm_segment_name";
pub const SEGMENT_SIZE_KEY: &str = "vgi_rpc.shm_segment_size";

pub type Metadata = BTreeMap<String, String>;

/// Canonical base-10 ASCII of a u64 (PTR-2).
pub fn encode_decimal(value: u64) -> String {
    value.to_string()
}

/// Parse a canonical decimal u64: ASCII digits only, no sign, no
/// whitespace, no leading zero except "0" itself, at most u64::MAX (PTR-8).
pub fn parse_decimal(raw: Option<&str>, key: &str) -> Result<u64> {
    let Some(raw) = raw else {
        return Err(bad_pointer("PTR-8", format!("pointer batch lacks {key}")));
    };
    let canonical = !raw.is_empty()
        && raw.bytes().all(|b| b.is_ascii_digit())
        && (raw == "0" || !raw.starts_with('0'));
    if !canonical {
        return Err(bad_pointer(
            "PTR-8",
            format!("{key}={raw:?} is not canonical base-10 ASCII"),
        ));
    }
    raw.bytes()
        .try_fold(0u64, |acc, b| {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
        .ok_or_else(|| bad_pointer("PTR-8", format!("{key}={raw} does not fit in a u64")))
}

/// A zero-row batch of any schema.
pub fn empty_batch(schema: &Schema) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| new_empty_array(f.data_type()))
        .collect();
    RecordBatch::try_new_with_options(
        Arc::new(schema.clone()),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(0)),
    )
    .map_err(|e| internal("PTR-1", format!("cannot build a zero-row batch: {e}")))
}

/// A zero-row batch of `schema` pointing at `(offset, length)` (PTR-1, PTR-2).
pub fn make_pointer(schema: &Schema, offset: u64, length: u64) -> Result<(RecordBatch, Metadata)> {
    let mut md = Metadata::new();
    md.insert(OFFSET_KEY.into(), encode_decimal(offset));
    md.insert(LENGTH_KEY.into(), encode_decimal(length));
    Ok((empty_batch(schema)?, md))
}

/// Zero rows, the offset key, and no log-level key (PTR-3).
pub fn is_pointer(batch: &RecordBatch, md: &Metadata) -> bool {
    batch.num_rows() == 0 && md.contains_key(OFFSET_KEY) && !md.contains_key(LOG_LEVEL_KEY)
}

/// A resolved batch, its metadata, and the offset the resolver must free (PTR-6).
pub struct Resolved {
    pub batch: RecordBatch,
    pub metadata: Metadata,
    pub release_offset: Option<u64>,
}

/// Turn a pointer batch into the batch it points at; pass anything else
/// through unchanged (PTR-5, PTR-7). Does not free: the caller frees
/// `release_offset` when it is done with the batch.
pub fn resolve(batch: RecordBatch, md: Metadata, segment: &Segment) -> Result<Resolved> {
    if !is_pointer(&batch, &md) {
        return Ok(Resolved {
            batch,
            metadata: md,
            release_offset: None,
        });
    }
    let offset = parse_decimal(md.get(OFFSET_KEY).map(String::as_str), OFFSET_KEY)?;
    let length = parse_decimal(md.get(LENGTH_KEY).map(String::as_str), LENGTH_KEY)?;
    let data = segment.read_batch(offset, length, &batch.schema())?;
    let mut metadata: Metadata = md
        .into_iter()
        .filter(|(k, _)| k != OFFSET_KEY && k != LENGTH_KEY && k != SOURCE_KEY)
        .collect();
    metadata.insert(SOURCE_KEY.into(), segment.name().to_string());
    Ok(Resolved {
        batch: data,
        metadata,
        release_offset: Some(offset),
    })
}

/// Write `batch` and return its pointer, or return it unchanged when it has
/// no rows, is under the size gate, or does not fit (WRITE-4..6, PTR-4).
/// The bool is true when a pointer is returned.
pub fn maybe_write(
    batch: RecordBatch,
    md: Metadata,
    segment: &mut Segment,
    min_bytes: usize,
) -> Result<(RecordBatch, Metadata, bool)> {
    if batch.num_rows() == 0 || batch.get_array_memory_size() < min_bytes {
        return Ok((batch, md, false));
    }
    let Some((offset, length)) = segment.write_batch(&batch)? else {
        return Ok((batch, md, false));
    };
    let (pointer, keys) = make_pointer(&batch.schema(), offset, length)?;
    let mut merged = md;
    merged.extend(keys);
    Ok((pointer, merged, true))
}

/// Request metadata advertising a segment (ADV-1).
pub fn advertise(segment: &Segment) -> Metadata {
    let mut md = Metadata::new();
    md.insert(SEGMENT_NAME_KEY.into(), segment.name().to_string());
    md.insert(
        SEGMENT_SIZE_KEY.into(),
        encode_decimal(segment.size() as u64),
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn canonical_decimals() {
        assert_eq!(parse_decimal(Some("0"), "k").unwrap(), 0);
        assert_eq!(parse_decimal(Some("65536"), "k").unwrap(), 65536);
        assert_eq!(
            parse_decimal(Some("18446744073709551615"), "k").unwrap(),
            u64::MAX
        );
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "01",
            "00",
            "0x10",
            "1_000",
            "1.0",
            "6e4",
            "18446744073709551616",
            "\u{ff16}",
        ] {
            let err = parse_decimal(Some(bad), "k").unwrap_err();
            assert_eq!(err.kind, Kind::BadPointer, "{bad:?}");
        }
        assert_eq!(parse_decimal(None, "k").unwrap_err().kind, Kind::BadPointer);
        assert_eq!(encode_decimal(u64::MAX), "18446744073709551615");
    }
}
