#include "framing.h"

#include <arrow/io/memory.h>
#include <arrow/ipc/api.h>
#include <arrow/util/bitmap_ops.h>
#include <arrow/util/utf8.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "errors.h"

namespace vgis {

namespace {

constexpr int64_t kEosSize = 8;  // FF FF FF FF 00 00 00 00

[[noreturn]] void Throw(const char* kind, const char* clause, const std::string& what,
                        const arrow::Status& status) {
  throw VgisError(kind, clause, what + ": " + status.ToString());
}

void Check(const arrow::Status& status, const char* kind, const char* clause,
           const std::string& what) {
  if (!status.ok()) Throw(kind, clause, what, status);
}

template <typename T>
T Take(arrow::Result<T> result, const char* kind, const char* clause, const std::string& what) {
  if (!result.ok()) Throw(kind, clause, what, result.status());
  return std::move(result).ValueUnsafe();
}

// One IPC stream with default IpcWriteOptions (what pyarrow.ipc.new_stream writes):
// schema, dictionaries, the batch if any, EOS.
void WriteStream(arrow::io::OutputStream* sink, const arrow::RecordBatch* batch,
                 const std::shared_ptr<arrow::Schema>& schema) {
  auto writer = Take(arrow::ipc::MakeStreamWriter(sink, schema, arrow::ipc::IpcWriteOptions::Defaults()),
                     "internal", "FRAME-1", "cannot start an IPC stream writer");
  if (batch != nullptr) {
    Check(writer->WriteRecordBatch(*batch), "internal", "FRAME-1", "cannot encode the batch");
  }
  Check(writer->Close(), "internal", "FRAME-1", "cannot finish the IPC stream");
}

int64_t StreamSize(const arrow::RecordBatch* batch, const std::shared_ptr<arrow::Schema>& schema) {
  arrow::io::MockOutputStream mock;
  WriteStream(&mock, batch, schema);
  return mock.GetExtentBytesWritten();
}

// Size of the encapsulated schema message alone (a schema-only stream minus EOS).
int64_t SchemaMessageSize(const std::shared_ptr<arrow::Schema>& schema) {
  return StreamSize(nullptr, schema) - kEosSize;
}

// An output stream that keeps only bytes [skip, skip + capacity) of what is
// written to it, copied straight into `dest`. Used for the dictionary framing:
// the writer's schema message (before) and EOS (after) are dropped without an
// intermediate whole-stream buffer.
class WindowOutputStream : public arrow::io::OutputStream {
 public:
  WindowOutputStream(uint8_t* dest, int64_t skip, int64_t capacity)
      : dest_(dest), skip_(skip), capacity_(capacity) {}

  arrow::Status Write(const void* data, int64_t nbytes) override {
    if (closed_) return arrow::Status::Invalid("stream is closed");
    const auto* p = static_cast<const uint8_t*>(data);
    int64_t start = position_;
    int64_t end = position_ + nbytes;
    int64_t lo = std::max(start, skip_);
    int64_t hi = std::min(end, skip_ + capacity_);
    if (lo < hi) std::memcpy(dest_ + (lo - skip_), p + (lo - start), static_cast<size_t>(hi - lo));
    position_ = end;
    return arrow::Status::OK();
  }
  arrow::Result<int64_t> Tell() const override { return position_; }
  arrow::Status Close() override {
    closed_ = true;
    return arrow::Status::OK();
  }
  bool closed() const override { return closed_; }

 private:
  uint8_t* dest_;
  int64_t skip_;
  int64_t capacity_;
  int64_t position_ = 0;
  bool closed_ = false;
};

// Rebuilds the dictionary framing's stream (FRAME-3): the schema message from
// the pointer schema, then messages read zero-copy from the region.
class DictionaryFramingReader : public arrow::ipc::MessageReader {
 public:
  DictionaryFramingReader(std::unique_ptr<arrow::ipc::Message> schema_message,
                          std::shared_ptr<arrow::io::BufferReader> region)
      : schema_message_(std::move(schema_message)), region_(std::move(region)) {}

  arrow::Result<std::unique_ptr<arrow::ipc::Message>> ReadNextMessage() override {
    if (schema_message_) return std::move(schema_message_);
    return arrow::ipc::ReadMessage(region_.get());
  }

 private:
  std::unique_ptr<arrow::ipc::Message> schema_message_;
  std::shared_ptr<arrow::io::BufferReader> region_;
};

std::unique_ptr<arrow::ipc::Message> SchemaMessage(const std::shared_ptr<arrow::Schema>& schema) {
  auto sink = Take(arrow::io::BufferOutputStream::Create(), "internal", "FRAME-3",
                   "cannot allocate a buffer");
  WriteStream(sink.get(), nullptr, schema);
  auto stream = Take(sink->Finish(), "internal", "FRAME-3", "cannot finish the schema stream");
  arrow::io::BufferReader reader(stream);
  auto message = Take(arrow::ipc::ReadMessage(&reader), "internal", "FRAME-3",
                      "cannot re-read the schema message");
  if (!message) throw Internal("FRAME-3", "the pointer schema encodes to no schema message");
  return message;
}

// The checks below run in blocks of a fixed count: -O2 vectorises a loop of
// known trip count (GCC's very-cheap cost model), not one of unknown length,
// and scalar they cost as much as reading the whole batch.
constexpr int64_t kBlock = 64;

// True when no byte of [p, p + n) has its high bit set.
bool IsAscii(const uint8_t* p, int64_t n) {
  uint8_t high = 0;
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    for (int64_t j = 0; j < kBlock; ++j) high |= p[i + j];
  }
  for (; i < n; ++i) high |= p[i];
  return (high & 0x80) == 0;
}

// True when some offset is smaller than the one before it. 32-bit offsets
// OR their differences, widened to 64 bits (no overflow), so a negative one
// leaves the sign bit set: a form GCC vectorises, where a bool it does not.
// A 64-bit difference can overflow, so 64-bit offsets compare.
template <typename Offset>
bool Descending(const Offset* offsets, int64_t count) {
  int64_t i = 1;
  if constexpr (sizeof(Offset) == 4) {
    int64_t signs = 0;
    for (; i + kBlock <= count; i += kBlock) {
      for (int64_t j = 0; j < kBlock; ++j) {
        signs |= static_cast<int64_t>(offsets[i + j]) - static_cast<int64_t>(offsets[i + j - 1]);
      }
    }
    for (; i < count; ++i) signs |= static_cast<int64_t>(offsets[i]) - static_cast<int64_t>(offsets[i - 1]);
    return signs < 0;
  } else {
    bool bad = false;
    for (; i < count; ++i) bad |= offsets[i] < offsets[i - 1];
    return bad;
  }
}

// What ValidateFull checks of a string or binary array's values, in one pass
// each: every offset (null slots too) in [0, the data buffer's size] and none
// smaller than the one before, and for strings the bytes from the first to the
// last offset valid UTF-8 with every offset on a character boundary. False
// when any check fails (or the array is not laid out as expected): the caller
// then asks Arrow's ValidateFull, whose verdict and message stand.
template <typename Offset>
bool FastValuesValid(const arrow::ArrayData& data, bool utf8) {
  if (data.buffers.size() < 3 || !data.buffers[1] || !data.buffers[2] || !data.child_data.empty()) {
    return false;
  }
  const int64_t count = data.length + 1;
  const int64_t room = data.buffers[1]->size() / static_cast<int64_t>(sizeof(Offset));
  if (data.offset < 0 || room < data.offset + count) return false;
  const Offset* offsets = data.GetValues<Offset>(1);
  const bool descending = Descending(offsets, count);
  const int64_t first = offsets[0], last = offsets[count - 1];
  if (descending || first < 0 || last > data.buffers[2]->size()) return false;
  if (!utf8) return true;
  const uint8_t* span = data.buffers[2]->data() + first;
  const int64_t n = last - first;
  if (IsAscii(span, n)) return true;  // every byte then starts a character
  static std::once_flag init;
  std::call_once(init, arrow::util::InitializeUTF8);
  if (!arrow::util::ValidateUTF8(span, n)) return false;
  for (int64_t i = 0; i < count; ++i) {
    int64_t at = offsets[i] - first;
    if (at < n && (span[at] & 0xC0) == 0x80) return false;  // inside a character
  }
  return true;
}

// RecordBatch::ValidateFull, but Arrow's per-string checks of text and binary
// columns (a UTF-8 validation call and a Status per string, several times the
// cost of reading the bytes) are done over each column's whole span at once.
arrow::Status ValidateBatch(const arrow::RecordBatch& batch) {
  ARROW_RETURN_NOT_OK(batch.Validate());  // structure: lengths, types, buffer sizes
  for (int i = 0; i < batch.num_columns(); ++i) {
    const arrow::ArrayData& data = *batch.column_data(i);
    bool fast = false;
    switch (data.type->id()) {
      case arrow::Type::STRING: fast = FastValuesValid<int32_t>(data, true); break;
      case arrow::Type::LARGE_STRING: fast = FastValuesValid<int64_t>(data, true); break;
      case arrow::Type::BINARY: fast = FastValuesValid<int32_t>(data, false); break;
      case arrow::Type::LARGE_BINARY: fast = FastValuesValid<int64_t>(data, false); break;
      default: break;
    }
    if (fast) {
      // The null count against the bitmap, the one full check left.
      if (data.buffers[0] && data.null_count != data.length - arrow::internal::CountSetBits(
                                 data.buffers[0]->data(), data.offset, data.length)) {
        return batch.ValidateFull();
      }
      continue;
    }
    arrow::Status st = batch.column(i)->ValidateFull();
    if (!st.ok()) return batch.ValidateFull();  // Arrow's message for the batch
  }
  return arrow::Status::OK();
}

}  // namespace

bool HasTopLevelDictionary(const arrow::Schema& schema) {
  for (const auto& field : schema.fields()) {
    if (field->type()->id() == arrow::Type::DICTIONARY) return true;
  }
  return false;
}

Framing FramingOf(const arrow::Schema& schema) {
  return HasTopLevelDictionary(schema) ? Framing::kMessages : Framing::kStream;  // FRAME-1/3/4
}

int64_t RegionSize(const arrow::RecordBatch& batch) {
  int64_t full = StreamSize(&batch, batch.schema());
  if (FramingOf(*batch.schema()) == Framing::kStream) return full;
  return full - StreamSize(nullptr, batch.schema());  // minus schema message and EOS
}

int64_t WriteRegion(uint8_t* dest, int64_t capacity, const arrow::RecordBatch& batch) {
  const auto& schema = batch.schema();
  if (FramingOf(*schema) == Framing::kStream) {
    // FRAME-1: Arrow's writer straight into the mapping; the fixed-size writer
    // refuses to pass `capacity` (WRITE-3).
    auto target = std::make_shared<arrow::MutableBuffer>(dest, capacity);
    arrow::io::FixedSizeBufferWriter sink(target);
    WriteStream(&sink, &batch, schema);
    return Take(sink.Tell(), "internal", "FRAME-1", "cannot tell the region size");
  }
  // FRAME-3: only the dictionary and record-batch messages.
  int64_t skip = SchemaMessageSize(schema);
  WindowOutputStream sink(dest, skip, capacity);
  WriteStream(&sink, &batch, schema);
  int64_t total = Take(sink.Tell(), "internal", "FRAME-3", "cannot tell the stream size");
  int64_t written = total - skip - kEosSize;
  if (written < 0 || written > capacity) {
    throw Internal("FRAME-3", "the dictionary framing is " + std::to_string(written) +
                                  " bytes, the region has room for " + std::to_string(capacity));
  }
  return written;
}

std::shared_ptr<arrow::RecordBatch> DecodeRegion(const uint8_t* region, int64_t length,
                                                 const std::shared_ptr<arrow::Schema>& schema) {
  Framing framing = FramingOf(*schema);
  const char* clause = framing == Framing::kStream ? "FRAME-1" : "FRAME-3";
  std::string what = std::string("region is not valid ") +
                     (framing == Framing::kStream ? "stream" : "messages") + " framing";
  auto view = std::make_shared<arrow::Buffer>(region, length);  // zero-copy, non-owning
  auto input = std::make_shared<arrow::io::BufferReader>(view);
  arrow::ipc::IpcReadOptions options = arrow::ipc::IpcReadOptions::Defaults();
  // Regions start at any allocator offset: copy misaligned buffers rather than
  // read them unaligned.
  options.ensure_alignment = arrow::ipc::Alignment::kDataTypeSpecificAlignment;
  options.use_threads = false;
  std::shared_ptr<arrow::ipc::RecordBatchStreamReader> reader;
  if (framing == Framing::kStream) {
    reader = Take(arrow::ipc::RecordBatchStreamReader::Open(input, options), "ipc_error", clause, what);
  } else {
    std::unique_ptr<arrow::ipc::MessageReader> messages =
        std::make_unique<DictionaryFramingReader>(SchemaMessage(schema), input);
    reader = Take(arrow::ipc::RecordBatchStreamReader::Open(std::move(messages), options),
                  "ipc_error", clause, what);
  }
  if (!reader->schema()->Equals(*schema, /*check_metadata=*/false)) {
    throw SchemaMismatch("PTR-11", "region schema " + reader->schema()->ToString() +
                                       " differs from the pointer schema " + schema->ToString());
  }
  std::shared_ptr<arrow::RecordBatch> batch;
  // FRAME-6: only the first record batch is read; nothing after it is looked at.
  Check(reader->ReadNext(&batch), "ipc_error", clause, what);
  if (!batch) throw IpcError(clause, "region holds no record batch");
  Check(ValidateBatch(*batch), "ipc_error", clause, what);
  return batch;
}

void CheckBounds(const Segment& segment, uint64_t offset, uint64_t length) {
  if (offset < kHeaderSize) {
    throw OutOfBounds("PTR-9", "offset " + std::to_string(offset) +
                                   " lies inside the 65536-byte header");
  }
  unsigned __int128 end = static_cast<unsigned __int128>(offset) + length;
  if (end > segment.size() || (end >> 64) != 0) {
    throw OutOfBounds("PTR-9", "region " + std::to_string(offset) + "+" + std::to_string(length) +
                                   " ends past the segment's " + std::to_string(segment.size()) +
                                   " bytes");
  }
}

std::shared_ptr<arrow::RecordBatch> ReadBatch(const Segment& segment, uint64_t offset,
                                              uint64_t length,
                                              const std::shared_ptr<arrow::Schema>& schema) {
  CheckBounds(segment, offset, length);
  return DecodeRegion(segment.data() + offset, static_cast<int64_t>(length), schema);
}

std::optional<std::pair<uint64_t, uint64_t>> WriteBatch(Segment& segment,
                                                         const arrow::RecordBatch& batch) {
  if (batch.num_rows() == 0) {
    throw BadRequest("WRITE-4", "zero-row batches are never written to a segment");
  }
  int64_t size = RegionSize(batch);
  Allocator allocator = segment.allocator();
  std::optional<uint64_t> offset = allocator.Allocate(static_cast<uint64_t>(size));
  if (!offset) return std::nullopt;  // WRITE-6
  int64_t written;
  try {
    written = WriteRegion(segment.data() + *offset, size, batch);  // WRITE-3: inside the entry
  } catch (const std::exception& e) {
    // The size was computed by the same encoder, so this is an overrun of the
    // reservation: the writer stopped at the entry's end (the fixed-size sinks
    // cannot pass it), and the batch does not fit (WRITE-3, WRITE-6).
    allocator.Free(*offset);
    std::fprintf(stderr, "vgis-peer-cpp: encoding into a %lld-byte entry failed, reported as "
                 "does not fit: %s\n", static_cast<long long>(size), e.what());
    return std::nullopt;
  }
  if (written != size) allocator.Shrink(*offset, static_cast<uint64_t>(written));  // WRITE-2
  return std::make_pair(*offset, static_cast<uint64_t>(written));
}

}  // namespace vgis
