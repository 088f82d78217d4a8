// The `bench` operation (docs/peer-protocol.md, "The `bench` operation"):
// timing inside the peer, every repetition on its own (steady_clock), after
// the batch file has been read.
//
// FIFO discipline (the same as the Rust peers'): the writer opens the FIFO
// once per repetition (O_WRONLY|O_NONBLOCK, retried while no reader has it,
// then blocking), writes one complete IPC stream with Arrow's stream writer
// and closes; the reader holds a read end and a write end of the FIFO for the
// whole bench, so a writer never meets a FIFO without a reader (EPIPE) and the
// gap between writers is never an end of file, and each repetition opens a
// fresh read end, waits (untimed) for the first byte, and reads exactly one
// stream up to its EOS (unbuffered: never a byte of the next stream).
#pragma once

#include <arrow/api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "segment.h"

namespace vgis {

struct BenchResult {
  std::vector<double> seconds;
  uint64_t bytes = 0;
  std::vector<int64_t> minor_faults;  // per repetition, where counted (not the pipe)
};

// Reads every byte of every buffer of every column (validity bitmaps,
// children and dictionaries included); the sum goes to a volatile sink.
uint64_t Touch(const arrow::RecordBatch& batch);

// write: WriteBatch timed, Free untimed; bad_request when it does not fit.
BenchResult BenchWrite(Segment& segment, const arrow::RecordBatch& batch, uint64_t repeat);
// resolve: Resolve of a pointer to (offset, length) plus Touch; nothing freed.
BenchResult BenchResolve(Segment& segment, const std::shared_ptr<arrow::Schema>& schema,
                         uint64_t offset, uint64_t length, uint64_t repeat);
// memcpy: `length` bytes of private memory to byte 65,536 of the segment.
BenchResult BenchMemcpy(Segment& segment, uint64_t length, uint64_t repeat);
BenchResult BenchPipeWrite(const std::string& path, const arrow::RecordBatch& batch, uint64_t repeat);
BenchResult BenchPipeRead(const std::string& path, uint64_t repeat);

}  // namespace vgis
