//! First-fit allocator whose whole state is the header's entry table (ALLOC-*).
//!
//! The table is shared with other processes that may be buggy, so nothing
//! read from it is trusted: placement treats every listed entry as occupied
//! wherever it claims to be, never hands out a range that passes the segment
//! end, and never writes an entry slot past byte 65,536 (ALLOC-8). Table
//! operations touch only `num_allocs` and the entry slots (ALLOC-9).

use crate::error::{bad_header, bad_request, no_allocation, Result};
use crate::header::{
    entry_at, num_allocs, read_entries, write_entries, write_u32, write_u64, HEADER_SIZE,
    MAX_ALLOCS, NUM_ALLOCS_AT,
};

/// Offset of the first gap of `size` bytes at or after byte 65,536, or None.
///
/// Entries are scanned in offset order; a gap opens only past the furthest
/// end seen so far, so overlapping, header-reaching or out-of-range entries
/// can shrink the free space but never create a phantom gap (ALLOC-1, ALLOC-8).
pub fn first_fit(entries: &[(u64, u64)], size: u64, total_size: u64) -> Option<u64> {
    let mut sorted = entries.to_vec();
    sorted.sort_unstable();
    let mut cursor = HEADER_SIZE as u64;
    for (offset, length) in sorted {
        if offset >= cursor && offset - cursor >= size {
            break;
        }
        cursor = cursor.max(offset.saturating_add(length));
    }
    match cursor.checked_add(size) {
        Some(end) if end <= total_size => Some(cursor),
        _ => None,
    }
}

/// The allocator over a header: `header` is the segment's first 65,536 bytes
/// (or more), `total_size` the mapped size of the whole segment.
pub struct Allocator<'a> {
    header: &'a mut [u8],
    total_size: u64,
}

impl<'a> Allocator<'a> {
    pub fn new(header: &'a mut [u8], total_size: u64) -> Self {
        assert!(
            header.len() >= HEADER_SIZE,
            "the allocator needs the whole header"
        );
        Self { header, total_size }
    }

    /// The live entries in stored order (at most `MAX_ALLOCS`).
    pub fn entries(&self) -> Vec<(u64, u64)> {
        read_entries(self.header, num_allocs(self.header) as usize)
    }

    /// The table, for an operation that rewrites it: refuses an over-capacity
    /// `num_allocs` (nothing is modified).
    fn entries_for_update(&self, clause: &'static str) -> Result<Vec<(u64, u64)>> {
        let count = num_allocs(self.header);
        if count as usize > MAX_ALLOCS {
            return Err(bad_header(
                clause,
                format!("num_allocs {count} exceeds MAX_ALLOCS {MAX_ALLOCS}; table not modified"),
            ));
        }
        Ok(read_entries(self.header, count as usize))
    }

    /// Reserve `size` bytes first-fit (ALLOC-1, ALLOC-2); `None` when the table
    /// is full or no gap is large enough (ALLOC-3); size 0 is bad_request (ALLOC-4).
    pub fn allocate(&mut self, size: u64) -> Result<Option<u64>> {
        if size == 0 {
            return Err(bad_request(
                "ALLOC-4",
                "allocation size must be positive, got 0",
            ));
        }
        let count = num_allocs(self.header) as usize;
        if count >= MAX_ALLOCS {
            return Ok(None);
        }
        let mut entries = read_entries(self.header, count);
        let Some(offset) = first_fit(&entries, size, self.total_size) else {
            return Ok(None);
        };
        if entries.windows(2).all(|w| w[0] <= w[1]) {
            // Sorted: insert in place, rewriting only the slots from the new one on.
            let index = entries
                .iter()
                .position(|&(o, _)| o > offset)
                .unwrap_or(entries.len());
            entries.insert(index, (offset, size));
            write_entries(self.header, &entries, index)?;
        } else {
            // Another writer left the table unsorted: store it sorted (HDR-10).
            entries.push((offset, size));
            entries.sort_unstable();
            write_entries(self.header, &entries, 0)?;
        }
        Ok(Some(offset))
    }

    fn index_of(entries: &[(u64, u64)], offset: u64, clause: &'static str) -> Result<usize> {
        entries
            .iter()
            .position(|&(o, _)| o == offset)
            .ok_or_else(|| {
                no_allocation(clause, format!("no allocation starts at offset {offset}"))
            })
    }

    /// Remove the entry that starts exactly at `offset`, keeping the others in
    /// order (ALLOC-5).
    pub fn free(&mut self, offset: u64) -> Result<()> {
        let mut entries = self.entries_for_update("ALLOC-5")?;
        let index = Self::index_of(&entries, offset, "ALLOC-5")?;
        entries.remove(index);
        write_entries(self.header, &entries, index)
    }

    /// Shorten the entry at `offset` to `length`, 1 <= length <= current (ALLOC-6).
    /// Only that entry's length field is written.
    pub fn shrink(&mut self, offset: u64, length: u64) -> Result<()> {
        let entries = self.entries_for_update("ALLOC-6")?;
        let index = Self::index_of(&entries, offset, "ALLOC-6")?;
        let current = entries[index].1;
        if length == 0 || length > current {
            return Err(bad_request(
                "ALLOC-6",
                format!("shrink to {length} bytes: must be within 1..={current}"),
            ));
        }
        write_u64(self.header, entry_at(index) + 8, length);
        Ok(())
    }

    /// Forget every entry: `num_allocs = 0`, nothing else touched (ALLOC-7).
    pub fn reset(&mut self) {
        write_u32(self.header, NUM_ALLOCS_AT, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::header::{decode, initialize, write_u32 as put_u32};

    const H: u64 = HEADER_SIZE as u64;

    fn segment(data: u64) -> (Vec<u8>, u64) {
        let mut buf = vec![0u8; HEADER_SIZE];
        initialize(&mut buf, H + data);
        (buf, H + data)
    }

    fn with_table(buf: &mut [u8], entries: &[(u64, u64)]) {
        write_entries(buf, entries, 0).unwrap();
    }

    #[test]
    fn first_fit_in_order() {
        let (mut buf, total) = segment(1000);
        let mut a = Allocator::new(&mut buf, total);
        assert_eq!(a.allocate(100).unwrap(), Some(H));
        assert_eq!(a.allocate(200).unwrap(), Some(H + 100));
        assert_eq!(a.allocate(700).unwrap(), Some(H + 300));
        assert_eq!(a.allocate(1).unwrap(), None);
        assert_eq!(a.entries(), vec![(H, 100), (H + 100, 200), (H + 300, 700)]);
    }

    /// SPEC "Worked example: the golden two-entry header".
    #[test]
    fn golden_two_entry_header() {
        let (mut buf, total) = segment(16_384);
        let mut a = Allocator::new(&mut buf, total);
        assert_eq!(a.allocate(100).unwrap(), Some(65_536));
        assert_eq!(a.allocate(156).unwrap(), Some(65_636));
        assert_eq!(a.allocate(50).unwrap(), Some(65_792));
        a.free(65_636).unwrap();
        let hex: String = buf[..crate::header::meaningful_length(2)]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5647495301000000004000000000000002000000000000000000010000000000\
             640000000000000000010100000000003200000000000000"
        );
        assert_eq!(read_entries(&buf, 3)[2], (65_792, 50), "slot 2 stays stale");
        assert_eq!(
            Allocator::new(&mut buf, total).allocate(156).unwrap(),
            Some(65_636)
        );
    }

    #[test]
    fn exact_fill_and_does_not_fit_leaves_header() {
        let (mut buf, total) = segment(64);
        let before = buf.clone();
        let mut a = Allocator::new(&mut buf, total);
        assert_eq!(a.allocate(65).unwrap(), None);
        assert_eq!(buf, before);
        let mut a = Allocator::new(&mut buf, total);
        assert_eq!(a.allocate(64).unwrap(), Some(H));
    }

    #[test]
    fn earliest_gap_wins_and_frees_coalesce() {
        let (mut buf, total) = segment(1000);
        let mut a = Allocator::new(&mut buf, total);
        for _ in 0..5 {
            a.allocate(100).unwrap().unwrap();
        }
        a.free(H + 100).unwrap();
        a.free(H + 300).unwrap();
        assert_eq!(a.allocate(100).unwrap(), Some(H + 100));
        a.free(H + 200).unwrap();
        a.free(H + 100).unwrap();
        // Gap H+100..H+400 after coalescing.
        assert_eq!(a.allocate(300).unwrap(), Some(H + 100));
        assert_eq!(a.entries(), vec![(H, 100), (H + 100, 300), (H + 400, 100)]);
    }

    #[test]
    fn gap_before_first_entry() {
        let (mut buf, total) = segment(1000);
        with_table(&mut buf, &[(H + 50, 10)]);
        let mut a = Allocator::new(&mut buf, total);
        assert_eq!(a.allocate(50).unwrap(), Some(H));
        assert_eq!(a.allocate(1).unwrap(), Some(H + 60));
        assert_eq!(a.entries(), vec![(H, 50), (H + 50, 10), (H + 60, 1)]);
    }

    #[test]
    fn zero_size_is_bad_request() {
        let (mut buf, total) = segment(1000);
        let before = buf.clone();
        let err = Allocator::new(&mut buf, total).allocate(0).unwrap_err();
        assert_eq!(err.kind, Kind::BadRequest);
        assert_eq!(buf, before);
    }

    #[test]
    fn full_table_does_not_fit() {
        let (mut buf, total) = segment(1 << 20);
        let mut a = Allocator::new(&mut buf, total);
        for _ in 0..MAX_ALLOCS {
            a.allocate(8).unwrap().unwrap();
        }
        let before = buf.clone();
        let mut a = Allocator::new(&mut buf, total);
        assert_eq!(a.allocate(8).unwrap(), None);
        assert_eq!(buf, before);
        // Over capacity: never written, never an error on allocate.
        put_u32(&mut buf, NUM_ALLOCS_AT, u32::MAX);
        let before = buf.clone();
        let mut a = Allocator::new(&mut buf, total);
        assert_eq!(a.allocate(8).unwrap(), None);
        assert_eq!(a.free(H).unwrap_err().kind, Kind::BadHeader);
        assert_eq!(a.shrink(H, 1).unwrap_err().kind, Kind::BadHeader);
        assert_eq!(buf, before);
    }

    #[test]
    fn free_and_shrink_errors_leave_header() {
        let (mut buf, total) = segment(1000);
        let mut a = Allocator::new(&mut buf, total);
        a.allocate(100).unwrap();
        let before = buf.clone();
        let mut a = Allocator::new(&mut buf, total);
        assert_eq!(a.free(H + 1).unwrap_err().kind, Kind::NoAllocation);
        assert_eq!(a.shrink(H + 1, 10).unwrap_err().kind, Kind::NoAllocation);
        assert_eq!(a.shrink(H, 0).unwrap_err().kind, Kind::BadRequest);
        assert_eq!(a.shrink(H, 101).unwrap_err().kind, Kind::BadRequest);
        assert_eq!(buf, before);
        let mut a = Allocator::new(&mut buf, total);
        a.shrink(H, 100).unwrap();
        a.shrink(H, 1).unwrap();
        assert_eq!(a.entries(), vec![(H, 1)]);
        assert_eq!(a.allocate(10).unwrap(), Some(H + 1));
    }

    #[test]
    fn free_keeps_order_and_stale_slots() {
        let (mut buf, total) = segment(1000);
        let mut a = Allocator::new(&mut buf, total);
        for _ in 0..3 {
            a.allocate(10).unwrap();
        }
        a.free(H).unwrap();
        assert_eq!(a.entries(), vec![(H + 10, 10), (H + 20, 10)]);
        // The third slot keeps its stale value (HDR-9: nothing is zeroed).
        assert_eq!(read_entries(&buf, 3)[2], (H + 20, 10));
    }

    #[test]
    fn reset_touches_only_num_allocs() {
        let (mut buf, total) = segment(1000);
        let mut a = Allocator::new(&mut buf, total);
        a.allocate(10).unwrap();
        a.allocate(10).unwrap();
        let mut expected = buf.clone();
        expected[16..20].copy_from_slice(&[0; 4]);
        Allocator::new(&mut buf, total).reset();
        assert_eq!(buf, expected);
        assert_eq!(
            Allocator::new(&mut buf, total).allocate(5).unwrap(),
            Some(H)
        );
    }

    #[test]
    fn hostile_tables_never_yield_overlap_or_overrun() {
        let data = 1000;
        let total = H + data;
        let tables: Vec<Vec<(u64, u64)>> = vec![
            vec![(H + 500, 100), (H, 100)], // unsorted
            vec![(H, 300), (H + 100, 50)],  // overlapping, contained
            vec![(H + 10, 20), (H, 500)],   // overlapping, unsorted
            vec![(100, 70_000)],            // starts inside the header
            vec![(H + 900, 500)],           // runs past the end
            vec![(total + 10, 5)],          // wholly past the end
            vec![(u64::MAX - 5, 100)],      // overflowing end
            vec![(H + 100, u64::MAX)],      // length to infinity
            vec![(H, 0), (H, 0)],           // zero-length duplicates
        ];
        for table in tables {
            for size in [1u64, 8, 50, 100, 400, 999, 1000, 1001] {
                let (mut buf, _) = segment(data);
                with_table(&mut buf, &table);
                let mut a = Allocator::new(&mut buf, total);
                if let Some(offset) = a.allocate(size).unwrap() {
                    assert!(
                        offset >= H && offset + size <= total,
                        "{table:?} {size} -> {offset}"
                    );
                    for &(o, l) in &table {
                        let end = o.saturating_add(l);
                        assert!(
                            offset + size <= o || offset >= end || l == 0,
                            "{table:?} {size} overlaps ({o},{l})"
                        );
                    }
                    let h = decode(&buf);
                    assert_eq!(h.entries.len(), table.len() + 1);
                    assert!(
                        h.entries.windows(2).all(|w| w[0] <= w[1]),
                        "table left unsorted"
                    );
                }
            }
        }
    }
}
