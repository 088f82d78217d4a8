//! The bench's `pipe_write` and `pipe_read`: one Arrow IPC stream per
//! repetition through a FIFO the harness made.
//!
//! FIFO discipline (both sides):
//!
//! - the writer opens the FIFO once per repetition (`O_WRONLY|O_NONBLOCK`,
//!   retried while no reader has it open, then switched to blocking I/O),
//!   writes one complete IPC stream with arrow-ipc's `StreamWriter` and
//!   closes it; its clock runs from the open's return to the close;
//! - the reader holds one read end and one write end of the FIFO for the
//!   whole bench, so that a writer never meets a FIFO without a reader (EPIPE)
//!   and the gap between two writers is never an end of file; each repetition
//!   it opens a fresh read end, waits (untimed) for the first byte, then reads
//!   exactly one stream up to its EOS with an unbuffered `StreamReader`
//!   (never a byte of the next stream), decodes it and touches every byte.
//!
//! With per-repetition opens on both sides and no keep-alive ends, a writer
//! can reopen while the previous reader still holds the FIFO, and its bytes
//! are then lost or it fails with EPIPE; streams are self-delimiting (EOS),
//! so the keep-alive ends cost nothing.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;

use crate::error::{bad_request, internal, Error, Kind, Result};
use crate::timing::{secs, touch};

/// How long a FIFO end waits for the other side (to open it, or for the next
/// bytes) before the bench fails instead of hanging the peer.
pub const PIPE_TIMEOUT: Duration = Duration::from_secs(60);

fn os_err(what: &str, path: &str, e: io::Error) -> Error {
    bad_request(format!("{what} {path:?}: {e}"))
}

fn open_fifo(path: &str, write: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

fn check_fifo(file: &File, path: &str) -> Result<()> {
    let meta = file
        .metadata()
        .map_err(|e| os_err("cannot stat", path, e))?;
    if !meta.file_type().is_fifo() {
        return Err(bad_request(format!("{path:?} is not a FIFO")));
    }
    Ok(())
}

fn set_blocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Wait until `file` has bytes to read (or its writers are gone).
fn wait_readable(file: &File) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        let n = unsafe { libc::poll(&mut pfd, 1, PIPE_TIMEOUT.as_millis() as libc::c_int) };
        if n > 0 {
            return Ok(());
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no bytes from the writer for {} s", PIPE_TIMEOUT.as_secs()),
            ));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Open `path` for writing once a reader holds it (ENXIO until then), then
/// switch to blocking writes.
fn open_writer(path: &str) -> Result<File> {
    let deadline = Instant::now() + PIPE_TIMEOUT;
    loop {
        match open_fifo(path, true) {
            Ok(file) => {
                check_fifo(&file, path)?;
                set_blocking(&file).map_err(|e| os_err("cannot set blocking mode on", path, e))?;
                return Ok(file);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(os_err("cannot open for writing", path, e)),
        }
    }
}

/// Counts the bytes that reach the FIFO.
struct Counted<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A non-blocking read end that waits (poll, bounded) when the pipe is empty,
/// counting the bytes it returns. Unbuffered: the stream reader asks for
/// exact lengths, so nothing past the EOS is consumed.
struct PipeSource {
    file: File,
    count: u64,
}

impl Read for PipeSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.file.read(buf) {
                Ok(n) => {
                    self.count += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_readable(&self.file)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// `pipe_write`: per repetition, open the FIFO, write `batch` as a complete
/// IPC stream (schema, batch, EOS), close. Returns (seconds, stream bytes).
pub fn pipe_write(path: &str, batch: &RecordBatch, repeat: u64) -> Result<(Vec<f64>, u64)> {
    let mut seconds = Vec::new();
    let mut bytes = 0;
    let ipc = |e: &dyn std::fmt::Display| internal(format!("writing to {path:?}: {e}"));
    for _ in 0..repeat {
        let file = open_writer(path)?;
        let start = Instant::now();
        let mut sink = BufWriter::with_capacity(
            64 * 1024,
            Counted {
                inner: file,
                count: 0,
            },
        );
        {
            let mut writer =
                StreamWriter::try_new(&mut sink, &batch.schema()).map_err(|e| ipc(&e))?;
            writer.write(batch).map_err(|e| ipc(&e))?;
            writer.finish().map_err(|e| ipc(&e))?;
        }
        let counted = sink.into_inner().map_err(|e| ipc(&e.error().to_string()))?;
        bytes = counted.count;
        drop(counted.inner); // close
        seconds.push(secs(start.elapsed()));
    }
    Ok((seconds, bytes))
}

/// `pipe_read`: per repetition, open the FIFO, read one complete IPC stream,
/// decode its batch and touch every byte. Returns (seconds, stream bytes).
pub fn pipe_read(path: &str, repeat: u64) -> Result<(Vec<f64>, u64)> {
    // Keep-alive ends (see the module comment). A non-blocking read open never
    // waits; the write open then cannot fail with ENXIO, as we are a reader.
    let keep_read =
        open_fifo(path, false).map_err(|e| os_err("cannot open for reading", path, e))?;
    check_fifo(&keep_read, path)?;
    let keep_write =
        open_fifo(path, true).map_err(|e| os_err("cannot open for writing", path, e))?;
    let mut seconds = Vec::new();
    let mut bytes = 0;
    let ipc =
        |e: &dyn std::fmt::Display| Error::new(Kind::IpcError, format!("reading {path:?}: {e}"));
    for _ in 0..repeat {
        let file =
            open_fifo(path, false).map_err(|e| os_err("cannot open for reading", path, e))?;
        wait_readable(&file).map_err(|e| os_err("waiting for the writer of", path, e))?;
        let start = Instant::now();
        let mut source = PipeSource { file, count: 0 };
        let batch = {
            let mut reader = StreamReader::try_new(&mut source, None).map_err(|e| ipc(&e))?;
            let batch = reader
                .next()
                .ok_or_else(|| ipc(&"the stream holds no record batch"))?
                .map_err(|e| ipc(&e))?;
            if let Some(extra) = reader.next() {
                extra.map_err(|e| ipc(&e))?;
                return Err(ipc(&"the stream holds more than one record batch"));
            }
            batch
        };
        drop(source.file); // close
        touch(&batch);
        seconds.push(secs(start.elapsed()));
        bytes = source.count;
    }
    drop(keep_write);
    drop(keep_read);
    Ok((seconds, bytes))
}
