//! The 65,536-byte segment header (HDR-*): layout, encoding, validation.
//!
//! ```text
//! byte  0..4   magic "VGIS"
//! byte  4..8   version      u32 LE = 1
//! byte  8..16  data_size    u64 LE = object size - 65,536
//! byte 16..20  num_allocs   u32 LE, <= 4,094
//! byte 20..24  padding      (0 when created, ignored when read)
//! byte 24+16i  entry i:     offset u64 LE, length u64 LE (absolute offsets)
//! ```
//!
//! Every function here takes the header as a byte slice, so the same code
//! serves a live mapping and a `Vec` in the unit tests. Nothing read from the
//! header is trusted: counts are clamped before they index anything.

use crate::error::{bad_header, Result};

/// HDR-1: the header's size; data starts here.
pub const HEADER_SIZE: usize = 65_536;
/// HDR-2.
pub const MAGIC: &[u8; 4] = b"VGIS";
/// HDR-3.
pub const VERSION: u32 = 1;
/// Bytes of the fixed fields (magic, version, data_size, num_allocs, padding).
pub const FIXED_SIZE: usize = 24;
/// HDR-7: bytes of one (offset, length) entry.
pub const ENTRY_SIZE: usize = 16;
/// HDR-7: entries that fit between byte 24 and byte 65,536.
pub const MAX_ALLOCS: usize = (HEADER_SIZE - FIXED_SIZE) / ENTRY_SIZE;
/// Byte offsets of the fixed fields.
pub const VERSION_AT: usize = 4;
pub const DATA_SIZE_AT: usize = 8;
pub const NUM_ALLOCS_AT: usize = 16;
pub const PADDING_AT: usize = 20;

const _: () = assert!(MAX_ALLOCS == 4094);

/// A decoded header; `entries` holds at most `MAX_ALLOCS` meaningful entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub magic: [u8; 4],
    pub version: u32,
    pub data_size: u64,
    pub num_allocs: u32,
    pub padding: u32,
    pub entries: Vec<(u64, u64)>,
}

pub fn read_u32(buf: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(raw)
}

pub fn read_u64(buf: &[u8], at: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(raw)
}

pub fn write_u32(buf: &mut [u8], at: usize, value: u32) {
    buf[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

pub fn write_u64(buf: &mut [u8], at: usize, value: u64) {
    buf[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// Byte offset of entry `index` (HDR-7).
pub fn entry_at(index: usize) -> usize {
    FIXED_SIZE + ENTRY_SIZE * index
}

/// The raw `num_allocs` field, which a broken peer may have set past `MAX_ALLOCS`.
pub fn num_allocs(buf: &[u8]) -> u32 {
    read_u32(buf, NUM_ALLOCS_AT)
}

/// Bytes of the header that carry state (HDR-9).
pub fn meaningful_length(num_allocs: u32) -> usize {
    entry_at((num_allocs as usize).min(MAX_ALLOCS))
}

/// Read `count` entries from byte 24, clamped to `MAX_ALLOCS` and to `buf`.
pub fn read_entries(buf: &[u8], count: usize) -> Vec<(u64, u64)> {
    let available = buf.len().saturating_sub(FIXED_SIZE) / ENTRY_SIZE;
    let count = count.min(MAX_ALLOCS).min(available);
    (0..count)
        .map(|i| (read_u64(buf, entry_at(i)), read_u64(buf, entry_at(i) + 8)))
        .collect()
}

/// Write `entries[start..]` into their slots and set `num_allocs = entries.len()`.
///
/// Refuses (bad_header, nothing written) a table longer than `MAX_ALLOCS`:
/// entry slots never pass byte 65,536 (ALLOC-8).
pub fn write_entries(buf: &mut [u8], entries: &[(u64, u64)], start: usize) -> Result<()> {
    if entries.len() > MAX_ALLOCS {
        return Err(bad_header(
            "ALLOC-8",
            format!(
                "refusing to write {} entries past the header",
                entries.len()
            ),
        ));
    }
    for (i, &(offset, length)) in entries.iter().enumerate().skip(start) {
        write_u64(buf, entry_at(i), offset);
        write_u64(buf, entry_at(i) + 8, length);
    }
    write_u32(buf, NUM_ALLOCS_AT, entries.len() as u32);
    Ok(())
}

/// Decode without validating; entries past `MAX_ALLOCS` are not read.
pub fn decode(buf: &[u8]) -> Header {
    let mut magic = [0u8; 4];
    magic.copy_from_slice(&buf[0..4]);
    let num_allocs = read_u32(buf, NUM_ALLOCS_AT);
    Header {
        magic,
        version: read_u32(buf, VERSION_AT),
        data_size: read_u64(buf, DATA_SIZE_AT),
        num_allocs,
        padding: read_u32(buf, PADDING_AT),
        entries: read_entries(buf, num_allocs as usize),
    }
}

/// Write a fresh header for a segment of `total_size` bytes (LIFE-3).
pub fn initialize(buf: &mut [u8], total_size: u64) {
    buf[0..4].copy_from_slice(MAGIC);
    write_u32(buf, VERSION_AT, VERSION);
    write_u64(buf, DATA_SIZE_AT, total_size - HEADER_SIZE as u64);
    write_u32(buf, NUM_ALLOCS_AT, 0);
    write_u32(buf, PADDING_AT, 0);
}

/// What an attacher checks before trusting a header (LIFE-4..7); `fixed`
/// holds at least the 24 fixed bytes, `object_size` is the object's size.
pub fn validate(fixed: &[u8], object_size: u64) -> Result<()> {
    if fixed.len() < FIXED_SIZE {
        return Err(bad_header(
            "LIFE-8",
            format!("only {} header bytes readable", fixed.len()),
        ));
    }
    if &fixed[0..4] != MAGIC {
        return Err(bad_header(
            "LIFE-4",
            format!("bad magic {:02x?}, expected \"VGIS\"", &fixed[0..4]),
        ));
    }
    let version = read_u32(fixed, VERSION_AT);
    if version != VERSION {
        return Err(bad_header(
            "LIFE-5",
            format!("unsupported version {version}, expected {VERSION}"),
        ));
    }
    let data_size = read_u64(fixed, DATA_SIZE_AT);
    let expected = object_size.saturating_sub(HEADER_SIZE as u64);
    if object_size < HEADER_SIZE as u64 || data_size != expected {
        return Err(bad_header(
            "LIFE-6",
            format!("data_size {data_size} does not match the object: {object_size} - {HEADER_SIZE} = {expected}"),
        ));
    }
    let count = read_u32(fixed, NUM_ALLOCS_AT);
    if count as usize > MAX_ALLOCS {
        return Err(bad_header(
            "LIFE-7",
            format!("num_allocs {count} exceeds MAX_ALLOCS {MAX_ALLOCS}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    fn fresh(total: u64) -> Vec<u8> {
        let mut buf = vec![0xAAu8; HEADER_SIZE];
        initialize(&mut buf, total);
        buf
    }

    #[test]
    fn layout_constants() {
        assert_eq!(MAX_ALLOCS, 4094);
        assert_eq!(entry_at(MAX_ALLOCS), HEADER_SIZE - 8);
        assert_eq!(entry_at(0), 24);
    }

    #[test]
    fn initialize_writes_fixed_fields_little_endian() {
        let buf = fresh(HEADER_SIZE as u64 + 0x0102_0304);
        assert_eq!(&buf[0..4], b"VGIS");
        assert_eq!(&buf[4..8], &[1, 0, 0, 0]);
        assert_eq!(&buf[8..16], &[4, 3, 2, 1, 0, 0, 0, 0]);
        assert_eq!(&buf[16..24], &[0; 8]);
        // Bytes past the fixed fields are not touched (HDR-9).
        assert_eq!(buf[24], 0xAA);
        let h = decode(&buf);
        assert_eq!(h.num_allocs, 0);
        assert!(h.entries.is_empty());
        assert_eq!(meaningful_length(h.num_allocs), 24);
    }

    #[test]
    fn entries_round_trip_and_clamp() {
        let mut buf = fresh(HEADER_SIZE as u64 * 2);
        let entries = vec![(65_536, 10), (65_600, 0x1122_3344_5566_7788)];
        write_entries(&mut buf, &entries, 0).unwrap();
        assert_eq!(num_allocs(&buf), 2);
        assert_eq!(&buf[40..48], &[0x40, 0x00, 0x01, 0, 0, 0, 0, 0]);
        assert_eq!(
            &buf[48..56],
            &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
        assert_eq!(decode(&buf).entries, entries);
        write_u32(&mut buf, NUM_ALLOCS_AT, u32::MAX);
        assert_eq!(decode(&buf).entries.len(), MAX_ALLOCS);
        assert_eq!(meaningful_length(u32::MAX), HEADER_SIZE - 8);
        let too_many = vec![(0u64, 0u64); MAX_ALLOCS + 1];
        let before = buf.clone();
        assert_eq!(
            write_entries(&mut buf, &too_many, 0).unwrap_err().kind,
            Kind::BadHeader
        );
        assert_eq!(buf, before);
    }

    #[test]
    fn validate_checks_each_field() {
        let total = HEADER_SIZE as u64 + 4096;
        let good = fresh(total);
        validate(&good, total).unwrap();
        let mut padded = good.clone();
        write_u32(&mut padded, PADDING_AT, 0xDEAD_BEEF);
        validate(&padded, total).unwrap();
        let cases: Vec<(usize, Vec<u8>, &str)> = vec![
            (0, b"VGIX".to_vec(), "LIFE-4"),
            (4, 0u32.to_le_bytes().to_vec(), "LIFE-5"),
            (4, 2u32.to_le_bytes().to_vec(), "LIFE-5"),
            (
                8,
                (total - HEADER_SIZE as u64 + 1).to_le_bytes().to_vec(),
                "LIFE-6",
            ),
            (
                8,
                (total - HEADER_SIZE as u64 - 1).to_le_bytes().to_vec(),
                "LIFE-6",
            ),
            (16, 4095u32.to_le_bytes().to_vec(), "LIFE-7"),
            (16, u32::MAX.to_le_bytes().to_vec(), "LIFE-7"),
        ];
        for (at, bytes, clause) in cases {
            let mut bad = good.clone();
            bad[at..at + bytes.len()].copy_from_slice(&bytes);
            let err = validate(&bad, total).unwrap_err();
            assert_eq!((err.kind, err.clause), (Kind::BadHeader, clause));
        }
        let mut full = good.clone();
        write_u32(&mut full, NUM_ALLOCS_AT, 4094);
        validate(&full, total).unwrap();
        assert_eq!(
            validate(&good[..10], total).unwrap_err().kind,
            Kind::BadHeader
        );
        assert_eq!(validate(&good, total + 1).unwrap_err().clause, "LIFE-6");
    }
}
