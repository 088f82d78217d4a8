//! The clock and the work of the bench: per-repetition seconds (and minor
//! page faults), touching every byte of a batch, and the memcpy baseline.

use std::cell::RefCell;
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

/// The process's minor page faults so far (`getrusage`).
fn minor_faults() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid out-pointer; RUSAGE_SELF cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_minflt
}

thread_local! {
    /// The minor faults of each repetition timed by a [`Stopwatch`] since
    /// the last [`take_faults`]: the `bench` answer's `minor_faults`.
    static FAULTS: RefCell<Vec<i64>> = const { RefCell::new(Vec::new()) };
}

/// One timed repetition: wall time, and the minor page faults taken meanwhile
/// (a fresh page costs a fault on first touch, which a memcpy into pages
/// already mapped does not pay; counting them shows when that is the
/// difference). The fault counter is read outside the timed interval.
pub struct Stopwatch {
    faults: i64,
    start: Instant,
}

impl Stopwatch {
    pub fn start() -> Stopwatch {
        let faults = minor_faults();
        Stopwatch {
            faults,
            start: Instant::now(),
        }
    }

    /// The repetition's seconds; its fault count goes to [`take_faults`].
    pub fn stop(self) -> f64 {
        let elapsed = self.start.elapsed();
        let faults = minor_faults() - self.faults;
        FAULTS.with(|f| f.borrow_mut().push(faults));
        secs(elapsed)
    }
}

/// The fault counts recorded since the last call, in repetition order.
pub fn take_faults() -> Vec<i64> {
    FAULTS.with(|f| std::mem::take(&mut *f.borrow_mut()))
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
        let clock = Stopwatch::start();
        let target = black_box(&mut *dst);
        target.copy_from_slice(src);
        black_box(target);
        seconds.push(clock.stop());
    }
    seconds
}
