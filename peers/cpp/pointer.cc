#include "pointer.h"

#include <arrow/array/util.h>
#include <arrow/util/byte_size.h>

#include <algorithm>

#include "errors.h"
#include "framing.h"

namespace vgis {

const char* const kOffsetKey = "vgi_rpc.shm_offset";
const char* const kLengthKey = "vgi_rpc.shm_length";
const char* const kSourceKey = "vgi_rpc.shm_source";
const char* const kLogLevelKey = "vgi_rpc.log_level";
const char* const kSegmentNameKey = "vgi_rpc.shm_segment_name";
const char* const kSegmentSizeKey = "vgi_rpc.shm_segment_size";

const std::string* Find(const Metadata& md, const std::string& key) {
  for (const auto& kv : md) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

void Put(Metadata* md, const std::string& key, const std::string& value) {
  for (auto& kv : *md) {
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  }
  md->emplace_back(key, value);
}

void Erase(Metadata* md, const std::string& key) {
  md->erase(std::remove_if(md->begin(), md->end(), [&](const auto& kv) { return kv.first == key; }),
            md->end());
}

std::string EncodeDecimal(uint64_t value) { return std::to_string(value); }

uint64_t ParseDecimal(const std::string* raw, const std::string& key) {
  if (raw == nullptr) throw BadPointer("PTR-8", "pointer batch lacks " + key);
  const std::string& s = *raw;
  // Canonical: "0" or [1-9][0-9]*, ASCII only; no sign, space, or leading zero.
  bool canonical = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                   (s.size() == 1 || s[0] != '0');
  if (!canonical) throw BadPointer("PTR-8", key + "='" + s + "' is not canonical base-10 ASCII");
  uint64_t value = 0;
  for (char c : s) {
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - d) / 10) {
      throw BadPointer("PTR-8", key + "=" + s + " does not fit in a u64");
    }
    value = value * 10 + d;
  }
  return value;
}

std::shared_ptr<arrow::RecordBatch> EmptyBatch(const std::shared_ptr<arrow::Schema>& schema) {
  auto made = arrow::RecordBatch::MakeEmpty(schema);
  if (made.ok()) return *made;
  // Fall back to zero-length null arrays, which every type has.
  std::vector<std::shared_ptr<arrow::Array>> columns;
  for (const auto& field : schema->fields()) {
    auto column = arrow::MakeArrayOfNull(field->type(), 0);
    if (!column.ok()) {
      throw Internal("PTR-1", "cannot build a zero-row column of type " + field->type()->ToString() +
                                  ": " + column.status().ToString());
    }
    columns.push_back(*column);
  }
  return arrow::RecordBatch::Make(schema, 0, std::move(columns));
}

Metadata PointerKeys(uint64_t offset, uint64_t length) {
  return {{kOffsetKey, EncodeDecimal(offset)}, {kLengthKey, EncodeDecimal(length)}};
}

bool IsPointer(const arrow::RecordBatch& batch, const Metadata& md) {
  return batch.num_rows() == 0 && Find(md, kOffsetKey) != nullptr && Find(md, kLogLevelKey) == nullptr;
}

Resolved Resolve(const std::shared_ptr<arrow::RecordBatch>& batch, const Metadata& md,
                 const Segment& segment) {
  if (!IsPointer(*batch, md)) return {batch, md, std::nullopt};  // PTR-7
  uint64_t offset = ParseDecimal(Find(md, kOffsetKey), kOffsetKey);
  uint64_t length = ParseDecimal(Find(md, kLengthKey), kLengthKey);
  auto data = ReadBatch(segment, offset, length, batch->schema());  // PTR-9..11
  Metadata out = md;
  Erase(&out, kOffsetKey);
  Erase(&out, kLengthKey);
  Erase(&out, kSourceKey);
  out.emplace_back(kSourceKey, segment.name());  // PTR-5: replaced, never duplicated
  return {data, out, offset};
}

MaybeWritten MaybeWrite(const std::shared_ptr<arrow::RecordBatch>& batch, const Metadata& md,
                        Segment& segment, int64_t min_bytes) {
  if (batch->num_rows() == 0) return {batch, md, false};  // WRITE-4
  if (min_bytes > 0) {
    auto nbytes = arrow::util::TotalBufferSize(*batch);
    if (nbytes < min_bytes) return {batch, md, false};  // WRITE-5
  }
  auto placed = WriteBatch(segment, *batch);
  if (!placed) return {batch, md, false};  // WRITE-6
  Metadata out = md;
  for (const auto& kv : PointerKeys(placed->first, placed->second)) Put(&out, kv.first, kv.second);  // PTR-4
  return {EmptyBatch(batch->schema()), out, true};
}

Metadata Advertise(const Segment& segment) {
  return {{kSegmentNameKey, segment.name()}, {kSegmentSizeKey, EncodeDecimal(segment.size())}};
}

}  // namespace vgis
