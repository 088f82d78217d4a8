// How a batch is laid out as bytes in a region (FRAME-*), and the region
// write/read paths over a segment (WRITE-*, PTR-9..11).
//
// Two framings: a complete IPC stream for schemas without a top-level
// dictionary field (FRAME-1, FRAME-4), and only the dictionary and
// record-batch messages for schemas with one (FRAME-3); the reader rebuilds
// the stream from the pointer batch's schema. Arrow C++ does all encoding with
// default IpcWriteOptions, so regions equal pyarrow's byte for byte (FRAME-9).
#pragma once

#include <arrow/api.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "segment.h"

namespace vgis {

enum class Framing { kStream, kMessages };

bool HasTopLevelDictionary(const arrow::Schema& schema);
Framing FramingOf(const arrow::Schema& schema);

// Exact byte length of the batch's region, computed without copying its data.
int64_t RegionSize(const arrow::RecordBatch& batch);
// Encodes the batch into dest[0, capacity); returns the bytes written.
int64_t WriteRegion(uint8_t* dest, int64_t capacity, const arrow::RecordBatch& batch);
// Decodes the first record batch of region[0, length) given the pointer schema
// (FRAME-6: trailing bytes are ignored). Throws ipc_error / schema_mismatch.
// Buffers may point into the region (zero-copy).
std::shared_ptr<arrow::RecordBatch> DecodeRegion(const uint8_t* region, int64_t length,
                                                 const std::shared_ptr<arrow::Schema>& schema);

// Allocate and write (WRITE-1..4, WRITE-6): (offset, length), or nullopt when
// the region does not fit. Throws bad_request for a zero-row batch.
std::optional<std::pair<uint64_t, uint64_t>> WriteBatch(Segment& segment,
                                                         const arrow::RecordBatch& batch);
// PTR-9: the region must lie in the data area of the segment.
void CheckBounds(const Segment& segment, uint64_t offset, uint64_t length);
// Bounds-check, then decode the region at offset.
std::shared_ptr<arrow::RecordBatch> ReadBatch(const Segment& segment, uint64_t offset,
                                              uint64_t length,
                                              const std::shared_ptr<arrow::Schema>& schema);

}  // namespace vgis
