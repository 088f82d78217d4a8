//! Batch and schema files: the Arrow IPC streams the harness and a peer pass
//! batches in (docs/peer-protocol.md, "Files").

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::SchemaRef;

use crate::error::{bad_request, internal, Error, Kind, Result};

/// The schema and the first batch of a batch or schema file (`None` when it
/// holds no batch): `bad_request` when it cannot be opened, `ipc_error` when
/// it is no IPC stream or its batch does not decode.
pub fn read_file(path: &str) -> Result<(SchemaRef, Option<RecordBatch>)> {
    let ipc = |m: String| Error::new(Kind::IpcError, m);
    let file = File::open(path).map_err(|e| bad_request(format!("cannot open {path:?}: {e}")))?;
    let mut reader = StreamReader::try_new(BufReader::new(file), None)
        .map_err(|e| ipc(format!("{path:?} is not an Arrow IPC stream: {e}")))?;
    let schema = reader.schema();
    let batch = reader
        .next()
        .transpose()
        .map_err(|e| ipc(format!("{path:?}: cannot read its batch: {e}")))?;
    Ok((schema, batch))
}

/// Write `batch` to `path` as schema, batch, EOS; `internal` on failure.
pub fn write_file(path: &str, batch: &RecordBatch) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| internal(format!("cannot write {path:?}: {e}"));
    let file = File::create(path).map_err(|e| fail(&e))?;
    let mut writer =
        StreamWriter::try_new(BufWriter::new(file), &batch.schema()).map_err(|e| fail(&e))?;
    writer.write(batch).map_err(|e| fail(&e))?;
    writer.finish().map_err(|e| fail(&e))?;
    writer
        .into_inner()
        .map_err(|e| fail(&e))?
        .flush()
        .map_err(|e| fail(&e))
}
