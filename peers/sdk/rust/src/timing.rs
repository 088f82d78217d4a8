//! The clock and the work of the bench: per-repetition seconds, touching
//! every byte of a batch, and the memcpy baseline.

use std::hint::black_box;
use std::time::{Duration, Instant};

use arrow_array::{Array, RecordBatch};
use arrow_data::ArrayData;

/// The first byte of a segment's data area; `memcpy` copies to it.
pub const DATA_START: usize = 65_536;

/// Seconds of a duration, for the `seconds` list.
pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Wrapping sum of `bytes`, read as native u64 words where aligned.
pub fn sum_bytes(bytes: &[u8]) -> u64 {
    // SAFETY: every bit pattern is a valid u64.
    let (head, words, tail) = unsafe { bytes.align_to::<u64>() };
    let mut lanes = [0u64; 4];
    let mut chunks = words.chunks_exact(4);
    for chunk in &mut chunks {
        for (lane, word) in lanes.iter_mut().zip(chunk) {
            *lane = lane.wrapping_add(*word);
        }
    }
    let mut sum = lanes.iter().fold(0u64, |a, &x| a.wrapping_add(x));
    for &word in chunks.remainder() {
        sum = sum.wrapping_add(word);
    }
    for &b in head.iter().chain(tail) {
        sum = sum.wrapping_add(u64::from(b));
    }
    sum
}

fn touch_data(data: &ArrayData) -> u64 {
    let mut sum = data.nulls().map_or(0, |n| sum_bytes(n.buffer().as_slice()));
    for buffer in data.buffers() {
        sum = sum.wrapping_add(sum_bytes(buffer.as_slice()));
    }
    // Children: nested types, and a dictionary's values.
    for child in data.child_data() {
        sum = sum.wrapping_add(touch_data(child));
    }
    sum
}

/// Reads every byte of every buffer of every column (validity bitmaps,
/// children and dictionary values included); the sum goes through
/// `black_box` so the reads cannot be optimised away.
pub fn touch(batch: &RecordBatch) -> u64 {
    let sum = batch.columns().iter().fold(0u64, |a, column| {
        a.wrapping_add(touch_data(&column.to_data()))
    });
    black_box(sum)
}

/// A private buffer of `length` bytes, filled (and so faulted in) before timing.
pub fn private_buffer(length: usize) -> Vec<u8> {
    (0..length)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
        .collect()
}

/// Copy `src` into `dst` (of the same length) `repeat` times, each timed on its own.
pub fn time_memcpy(dst: &mut [u8], src: &[u8], repeat: u64) -> Vec<f64> {
    let mut seconds = Vec::new();
    for _ in 0..repeat {
        let start = Instant::now();
        let target = black_box(&mut *dst);
        target.copy_from_slice(src);
        black_box(target);
        seconds.push(secs(start.elapsed()));
    }
    seconds
}
