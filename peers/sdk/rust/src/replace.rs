//! Putting back an allocation entry that a library freed behind the
//! harness's back, for a library whose zero-copy resolve frees the region
//! when the resolved batch drops (the bench's `resolve` must leave the
//! harness's region listed).

use arrow_array::RecordBatch;

use crate::backend::Segment;
use crate::error::{bad_request, internal, Result};
use crate::timing::{touch, Stopwatch, DATA_START};

/// The bench's `resolve` of the region at `offset` for such a library:
/// per repetition, `resolve` and the touch of its batch are timed; the
/// batch's drop (which frees the entry) and [`replace_entry`] are not.
pub fn bench_resolve_replacing<S: Segment + ?Sized>(
    seg: &mut S,
    offset: u64,
    repeat: u64,
    mut resolve: impl FnMut(&mut S) -> Result<RecordBatch>,
) -> Result<Vec<f64>> {
    let before = seg.allocations()?;
    let Some(&(_, length)) = before.iter().find(|&&(o, _)| o == offset) else {
        return Err(bad_request(format!(
            "no entry starts at {offset}: place the region first"
        )));
    };
    let mut seconds = Vec::new();
    for _ in 0..repeat {
        let clock = Stopwatch::start();
        let batch = match resolve(seg) {
            Ok(batch) => batch,
            Err(e) => {
                // A failed decode may have freed the entry too.
                let _ = replace_entry(seg, &before, offset, length);
                return Err(e);
            }
        };
        touch(&batch);
        seconds.push(clock.stop());
        drop(batch);
        replace_entry(seg, &before, offset, length)?;
    }
    Ok(seconds)
}

/// Put the entry `(offset, length)` back at exactly its offset, using only
/// the segment's first-fit `allocate` and `free`: fill every gap below
/// `offset` (and the start of its own gap) with temporary entries, allocate
/// `length` (which then lands at `offset`), free the fillers. The table then
/// ends as `before` was, or this fails with `internal`. No other process may
/// allocate meanwhile (the harness waits for the bench's answer).
pub fn replace_entry<S: Segment + ?Sized>(
    seg: &mut S,
    before: &[(u64, u64)],
    offset: u64,
    length: u64,
) -> Result<()> {
    let now = seg.allocations()?;
    if now.iter().any(|&(o, _)| o == offset) {
        return Ok(());
    }
    let placed = place(seg, &gaps_below(now, offset), offset, length);
    placed.map_err(|m| {
        internal(format!(
            "bench resolve: the crate freed the harness's region {offset}+{length} and it cannot be re-placed: {m}"
        ))
    })?;
    let mut after = seg.allocations()?;
    let mut expected = before.to_vec();
    after.sort_unstable();
    expected.sort_unstable();
    if after != expected {
        return Err(internal(format!(
            "bench resolve: the table after re-placing is {after:?}, was {expected:?}"
        )));
    }
    Ok(())
}

/// The free gaps `(start, size)` of the data area below `offset`.
fn gaps_below(mut entries: Vec<(u64, u64)>, offset: u64) -> Vec<(u64, u64)> {
    entries.sort_unstable();
    let mut prev_end = DATA_START as u64;
    let mut gaps = Vec::new();
    for (o, l) in entries {
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
    gaps
}

/// Fill `gaps`, allocate the entry, free the fillers (whatever happened).
fn place<S: Segment + ?Sized>(
    seg: &mut S,
    gaps: &[(u64, u64)],
    offset: u64,
    length: u64,
) -> std::result::Result<(), String> {
    let mut fillers = Vec::new();
    let mut result = Ok(());
    for &(at, size) in gaps {
        match seg.allocate(size).ok().flatten() {
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
        match seg.allocate(length).ok().flatten() {
            Some(got) if got == offset => {}
            Some(got) => {
                let _ = seg.free(got);
                result = Err(format!("the entry landed at {got}"));
            }
            None => result = Err("the entry does not fit any more".to_string()),
        }
    }
    for f in fillers {
        let _ = seg.free(f);
    }
    result
}
