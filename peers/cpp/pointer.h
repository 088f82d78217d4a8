// Pointer batches: make, recognise, resolve, maybe-write (PTR-*, WRITE-4..6).
//
// Custom metadata is an ordered list of (key, value) byte strings with unique
// keys, as the batch carries it, so keys the format does not own pass through.
#pragma once

#include <arrow/api.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "segment.h"

namespace vgis {

extern const char* const kOffsetKey;        // vgi_rpc.shm_offset
extern const char* const kLengthKey;        // vgi_rpc.shm_length
extern const char* const kSourceKey;        // vgi_rpc.shm_source
extern const char* const kLogLevelKey;      // vgi_rpc.log_level
extern const char* const kSegmentNameKey;   // vgi_rpc.shm_segment_name (ADV-1)
extern const char* const kSegmentSizeKey;   // vgi_rpc.shm_segment_size (ADV-1)

using Metadata = std::vector<std::pair<std::string, std::string>>;

const std::string* Find(const Metadata& md, const std::string& key);
void Put(Metadata* md, const std::string& key, const std::string& value);  // replace or append
void Erase(Metadata* md, const std::string& key);

std::string EncodeDecimal(uint64_t value);                           // PTR-2
uint64_t ParseDecimal(const std::string* raw, const std::string& key);  // PTR-8

// A zero-row batch of any schema (PTR-1).
std::shared_ptr<arrow::RecordBatch> EmptyBatch(const std::shared_ptr<arrow::Schema>& schema);
// PTR-1, PTR-2: the zero-row batch and its two pointer keys.
Metadata PointerKeys(uint64_t offset, uint64_t length);
// PTR-3: zero rows, has the offset key, lacks the log-level key.
bool IsPointer(const arrow::RecordBatch& batch, const Metadata& md);

struct Resolved {
  std::shared_ptr<arrow::RecordBatch> batch;
  Metadata metadata;
  std::optional<uint64_t> release_offset;  // PTR-6: the caller frees it
};
// PTR-5, PTR-7..11.
Resolved Resolve(const std::shared_ptr<arrow::RecordBatch>& batch, const Metadata& md,
                 const Segment& segment);

struct MaybeWritten {
  std::shared_ptr<arrow::RecordBatch> batch;  // the pointer, or the batch unchanged
  Metadata metadata;
  bool pointer;
};
// WRITE-4..6, PTR-4. `min_bytes` is the size gate (WRITE-5); this peer's is 0.
MaybeWritten MaybeWrite(const std::shared_ptr<arrow::RecordBatch>& batch, const Metadata& md,
                        Segment& segment, int64_t min_bytes = 0);

// ADV-1: request metadata advertising a segment.
Metadata Advertise(const Segment& segment);

}  // namespace vgis
