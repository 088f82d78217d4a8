//! The `bench` op (docs/peer-protocol.md, "The `bench` operation"): the
//! arguments and files are read before any clock starts, and every
//! repetition is timed on its own, inside the peer.

use arrow_array::RecordBatch;
use serde_json::{json, Value};

use crate::backend::{Backend, Segment};
use crate::error::{bad_request, Error, Kind, Result};
use crate::fifo::{pipe_read, pipe_write};
use crate::files::read_file;
use crate::handles::Handles;
use crate::request::Request;
use crate::shm::Mapping;
use crate::timing::{take_faults, Stopwatch, DATA_START};

/// The batch (with rows) of the request's batch file.
fn batch_with_rows(req: &Request) -> Result<RecordBatch> {
    let (_, batch) = read_file(req.string("batch")?)?;
    batch
        .filter(|b| b.num_rows() > 0)
        .ok_or_else(|| bad_request("the batch file holds no batch with rows"))
}

/// The library's write path, timed; the free after it is not.
fn write<S: Segment>(seg: &mut S, batch: &RecordBatch, repeat: u64) -> Result<(Vec<f64>, u64)> {
    let (mut seconds, mut bytes) = (Vec::new(), 0);
    for _ in 0..repeat {
        let clock = Stopwatch::start();
        let placed = seg.write(batch)?;
        let elapsed = clock.stop();
        let Some((offset, length)) = placed else {
            return Err(bad_request(format!(
                "[WRITE-6] the batch does not fit in the {}-byte segment",
                seg.size()
            )));
        };
        seg.free(offset)?;
        seconds.push(elapsed);
        bytes = length;
    }
    Ok((seconds, bytes))
}

fn memcpy<S: Segment>(
    (seg, second): (&mut S, &mut Option<Mapping>),
    length: u64,
    repeat: u64,
) -> Result<Vec<f64>> {
    let end = (DATA_START as u64).checked_add(length);
    if end.is_none_or(|end| end > seg.size()) {
        return Err(Error::new(
            Kind::OutOfBounds,
            format!(
                "{length} bytes from {DATA_START} do not fit in the {}-byte segment",
                seg.size()
            ),
        ));
    }
    seg.bench_memcpy(length as usize, repeat, second)
}

pub(crate) fn bench<B: Backend>(
    backend: &mut B,
    handles: &mut Handles<B::Segment>,
    req: &Request,
) -> Result<Value> {
    let action = req.string("action")?;
    let repeat = req.uint("repeat")?;
    if repeat == 0 {
        return Err(bad_request("repeat must be at least 1"));
    }
    take_faults(); // a failed earlier bench may have left counts behind
    let (seconds, bytes) = match action {
        "write" => {
            let batch = batch_with_rows(req)?;
            write(handles.open(req)?, &batch, repeat)?
        }
        "resolve" => {
            let (schema, _) = read_file(req.string("batch")?)?;
            let (offset, length) = (req.uint("offset")?, req.uint("length")?);
            let (pointer, md) = backend.make_pointer(&schema, offset, length)?;
            let seg = handles.open(req)?;
            (seg.bench_resolve(&pointer, &md, offset, repeat)?, length)
        }
        "memcpy" => {
            let length = req.uint("length")?;
            (memcpy(handles.open_bench(req)?, length, repeat)?, length)
        }
        "pipe_write" => pipe_write(req.string("path")?, &batch_with_rows(req)?, repeat)?,
        "pipe_read" => pipe_read(req.string("path")?, repeat)?,
        other => {
            return Err(bad_request(format!(
                "unknown bench action {other:?} (write, resolve, memcpy, pipe_write, pipe_read)"
            )))
        }
    };
    let mut answer = json!({"seconds": seconds, "bytes": bytes});
    // Minor page faults per repetition, where every repetition was counted
    // (write, resolve, memcpy; not the pipe): an optional field.
    let faults = take_faults();
    if faults.len() == seconds.len() {
        answer["minor_faults"] = json!(faults);
    }
    Ok(answer)
}
