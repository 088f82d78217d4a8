// The C++ peer SDK: the protocol plumbing of a VGIS conformance peer
// (docs/peer-protocol.md) over nlohmann/json and Arrow C++.
//
// The SDK owns the JSON-lines loop on stdin/stdout, the segment-handle table
// (closed handles serve only close and unlink; an attacher never unlinks),
// the request arguments (u64 exact up to 2^64 - 1, a missing or mistyped one
// is bad_request), batch and schema files, hello, the bench dispatch, the
// capture of every exception into an error response (`internal` unless it
// carries a kind), and shutdown (close every segment, unlink the created
// ones). It knows nothing about any VGIS implementation: a peer implements
// Backend and Segment over the library it wraps, overriding one method per
// op it supports (the others answer `unsupported`), and calls Run.
//
// Messages follow the protocol's convention "[CLAUSE] text", "[-] text" when
// no clause applies (Error::Of).
#pragma once

#include <arrow/api.h>

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace vgis_peer {

// Responses keep the order their members were set in (id, ok, then results).
using Json = nlohmann::ordered_json;

constexpr int kProtocolVersion = 1;

// The error kinds of a response.
namespace kind {
inline constexpr const char* kBadHeader = "bad_header";
inline constexpr const char* kBadName = "bad_name";
inline constexpr const char* kOutOfBounds = "out_of_bounds";
inline constexpr const char* kBadPointer = "bad_pointer";
inline constexpr const char* kNoAllocation = "no_allocation";
inline constexpr const char* kIpcError = "ipc_error";
inline constexpr const char* kSchemaMismatch = "schema_mismatch";
inline constexpr const char* kBadRequest = "bad_request";
inline constexpr const char* kUnsupported = "unsupported";
inline constexpr const char* kInternal = "internal";
}  // namespace kind

// A rejection with a protocol kind; what() is the response's message, verbatim.
class Error : public std::runtime_error {
 public:
  Error(std::string kind, const std::string& message) : std::runtime_error(message), kind_(std::move(kind)) {}
  // "[clause] message"; clause "-" when none applies.
  static Error Of(const std::string& kind, const std::string& clause, const std::string& message) {
    return Error(kind, "[" + clause + "] " + message);
  }
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
};

// Custom metadata in the order it arrived (a JSON object of strings).
using Metadata = std::vector<std::pair<std::string, std::string>>;
using BatchPtr = std::shared_ptr<arrow::RecordBatch>;
using SchemaPtr = std::shared_ptr<arrow::Schema>;

// A batch or schema file: its schema and its batch, null when it holds none.
struct BatchFile {
  SchemaPtr schema;
  BatchPtr batch;
};

// Reads an IPC stream file (bad_request when it cannot be opened, ipc_error
// when it is no stream or its batch is invalid).
BatchFile ReadBatchFile(const std::string& path);
// Writes schema, batch, EOS to path, creating or truncating it (internal on failure).
void WriteBatchFile(const std::string& path, const BatchPtr& batch);
// A zero-row batch of schema.
BatchPtr EmptyBatch(const SchemaPtr& schema);

// The arguments of one request, read with the protocol's error kinds.
class Request {
 public:
  explicit Request(Json body) : body_(std::move(body)) {}
  const Json& body() const { return body_; }
  const std::string& op() const { return op_; }

  // The argument itself; bad_request when absent.
  const Json& Arg(const char* key) const;
  std::string Str(const char* key) const;
  uint64_t U64(const char* key) const;
  // Absent or null is nullopt.
  std::optional<uint64_t> OptU64(const char* key) const;
  // `metadata`: absent or null is empty.
  Metadata Meta() const;
  // The file named by the argument.
  BatchFile File(const char* key) const { return ReadBatchFile(Str(key)); }

 private:
  friend class Loop;
  Json body_;
  std::string op_;
};

// Where a batch was written: (offset, length).
using Region = std::pair<uint64_t, uint64_t>;

struct Resolution {
  BatchPtr batch;                          // the resolved batch, or the input unchanged
  Metadata metadata;                       // after resolution
  std::optional<uint64_t> release_offset;  // what the caller must free; its presence is `pointer`
};

struct MaybeWritten {
  BatchPtr batch;  // the pointer batch, or the input unchanged
  Metadata metadata;
  bool pointer = false;
};

struct PointerBatch {
  BatchPtr batch;  // zero rows
  Metadata metadata;
};

struct BenchResult {
  std::vector<double> seconds;  // one per repetition
  uint64_t bytes = 0;
  // Minor page faults per repetition (getrusage, read outside the timed
  // interval), answered as `minor_faults` when there is one per repetition:
  // shows when fresh pages, not the copy, are the cost.
  std::vector<int64_t> minor_faults;
};

// One created or attached segment. The SDK serialises every call, calls
// Close at most once and Unlink only on a created segment; a closed
// segment is never asked anything but Unlink.
class Segment {
 public:
  virtual ~Segment() = default;
  virtual std::string Name() const = 0;  // the OS name actually used (canonical)
  virtual uint64_t Size() const = 0;     // the mapped size
  // The first `length` (<= 65,536) bytes as the library sees them.
  virtual std::string Header(uint64_t length) = 0;
  virtual void Close() = 0;   // unmaps, never unlinks
  virtual void Unlink() = 0;  // removes the OS object
  // The library's write path; nullopt when the batch (>= 1 row) does not fit.
  virtual std::optional<Region> Write(const arrow::RecordBatch& batch) = 0;
  // Resolves a pointer batch, or returns any other batch unchanged. Never frees.
  virtual Resolution Resolve(const BatchPtr& batch, const Metadata& metadata) = 0;

  // Optional, each behind the capability of its op's name; the defaults answer unsupported.
  virtual std::optional<uint64_t> Allocate(uint64_t size);
  virtual void Free(uint64_t offset);
  virtual std::vector<Region> Allocations();
  virtual void Shrink(uint64_t offset, uint64_t length);
  virtual void Reset();
  virtual BatchPtr Read(uint64_t offset, uint64_t length, const SchemaPtr& schema);
  virtual MaybeWritten MaybeWrite(const BatchPtr& batch, const Metadata& metadata);
  virtual Metadata Advertise();
};

// What hello reports besides the protocol version and Arrow C++'s own.
struct Info {
  std::string name;
  std::string version;
  std::string language = "c++";
  std::string arrow_library = "arrow-cpp";
  std::vector<std::string> capabilities;  // equal to peer.toml's, in its order
  std::optional<uint64_t> min_batch_bytes;
};

// The library under test.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual Info Hello() = 0;
  // create: `name` as the harness sent it; Segment::Name reports the one used.
  virtual std::unique_ptr<Segment> Create(const std::string& name, uint64_t size);
  // attach: `size` is the advertised size, nullopt when none.
  virtual std::unique_ptr<Segment> Attach(const std::string& name, std::optional<uint64_t> size);
  // make_pointer.
  virtual PointerBatch MakePointer(const SchemaPtr& schema, uint64_t offset, uint64_t length);

  // bench, one method per action; the batch file is read before any clock
  // starts, and write/pipe_write get a batch with rows.
  virtual BenchResult BenchWrite(Segment& segment, const arrow::RecordBatch& batch, uint64_t repeat);
  virtual BenchResult BenchResolve(Segment& segment, const SchemaPtr& schema, uint64_t offset, uint64_t length,
                                   uint64_t repeat);
  virtual BenchResult BenchMemcpy(Segment& segment, uint64_t length, uint64_t repeat);
  virtual BenchResult BenchPipeWrite(const std::string& path, const arrow::RecordBatch& batch, uint64_t repeat);
  virtual BenchResult BenchPipeRead(const std::string& path, uint64_t repeat);

  // The kind of an exception the library threw (not an Error); nullopt
  // answers internal. The message is always e.what().
  virtual std::optional<std::string> KindOf(const std::exception& e);
};

// The unsupported answer of an op the backend does not implement.
[[noreturn]] void Unsupported(const std::string& op);

// Answers requests from `in` on `out` until end of input or shutdown, then
// closes every segment and unlinks the created ones. Returns the exit status:
// 0, 1 when `out` fails, 2 when Info declares a capability the protocol lacks.
int Serve(Backend& backend, std::istream& in, std::ostream& out);
// Serve on stdin/stdout, with SIGPIPE ignored.
int Run(Backend& backend);

// One response line (without "\n") as the SDK writes it: ", " and ": "
// separators, invalid UTF-8 replaced.
std::string Dump(const Json& value);

}  // namespace vgis_peer
