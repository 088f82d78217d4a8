// vgis-peer-cpp: the peer protocol (docs/peer-protocol.md) over this folder's
// C++ implementation of VGIS v1 (docs/SPEC.md), built on the Arrow C++ that the
// pyarrow wheel ships. All of this file is the protocol; the format lives in
// header/allocator/segment/framing/pointer.

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <arrow/ipc/api.h>
#include <arrow/util/config.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <new>
#include <string>

#include "bench.h"
#include "errors.h"
#include "framing.h"
#include "json.h"
#include "pointer.h"
#include "segment.h"

namespace {

using json::Value;
using vgis::BadRequest;

constexpr const char* kPeerVersion = "0.1.0";
// Keep in step with peer.toml's `capabilities` (the harness refuses a peer
// whose two lists differ).
const char* const kCapabilities[] = {"allocate", "allocations", "shrink", "reset", "read", "make_pointer", "maybe_write",
                                     "advertise", "bench", "named_create"};

// --- request arguments -------------------------------------------------------

const Value& Arg(const Value& req, const char* key) {
  const Value* v = req.get(key);
  if (v == nullptr) throw BadRequest("-", std::string("request lacks '") + key + "'");
  return *v;
}

std::string StrArg(const Value& req, const char* key) {
  const Value& v = Arg(req, key);
  if (!v.is_string()) throw BadRequest("-", std::string("'") + key + "' must be a string");
  return v.str();
}

uint64_t U64Arg(const Value& req, const char* key) {
  auto n = Arg(req, key).as_u64();
  if (!n) throw BadRequest("-", std::string("'") + key + "' must be an integer in 0..2^64-1");
  return *n;
}

std::optional<uint64_t> OptU64Arg(const Value& req, const char* key) {
  const Value* v = req.get(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  auto n = v->as_u64();
  if (!n) throw BadRequest("-", std::string("'") + key + "' must be null or an integer in 0..2^64-1");
  return n;
}

vgis::Metadata MetadataArg(const Value& req) {
  vgis::Metadata md;
  const Value* v = req.get("metadata");
  if (v == nullptr || v->is_null()) return md;
  if (!v->is_object()) throw BadRequest("-", "'metadata' must be an object of strings");
  for (const auto& kv : v->members()) {
    if (!kv.second.is_string()) throw BadRequest("-", "metadata value of '" + kv.first + "' is not a string");
    md.emplace_back(kv.first, kv.second.str());
  }
  return md;
}

Value MetadataJson(const vgis::Metadata& md) {
  Value out = Value::Obj();
  for (const auto& kv : md) out.set(kv.first, Value::Str(kv.second));
  return out;
}

Value OptU64(const std::optional<uint64_t>& v) { return v ? Value::U64(*v) : Value::Null(); }

// --- batch and schema files ---------------------------------------------------

struct FileContents {
  std::shared_ptr<arrow::Schema> schema;
  std::shared_ptr<arrow::RecordBatch> batch;  // null when the stream has none
};

FileContents ReadFile(const std::string& path) {
  auto file = arrow::io::ReadableFile::Open(path);
  if (!file.ok()) throw BadRequest("-", "cannot open '" + path + "': " + file.status().ToString());
  auto reader = arrow::ipc::RecordBatchStreamReader::Open(*file);
  if (!reader.ok()) {
    throw vgis::IpcError("-", "'" + path + "' is not an Arrow IPC stream: " + reader.status().ToString());
  }
  FileContents out;
  out.schema = (*reader)->schema();
  arrow::Status st = (*reader)->ReadNext(&out.batch);
  if (!st.ok()) throw vgis::IpcError("-", "cannot read the batch of '" + path + "': " + st.ToString());
  if (out.batch) {
    st = out.batch->ValidateFull();
    if (!st.ok()) throw vgis::IpcError("-", "the batch of '" + path + "' is invalid: " + st.ToString());
  }
  return out;
}

void SaveBatch(const std::string& path, const std::shared_ptr<arrow::RecordBatch>& batch) {
  auto fail = [&](const arrow::Status& st) {
    throw vgis::Internal("-", "cannot write '" + path + "': " + st.ToString());
  };
  auto sink = arrow::io::FileOutputStream::Open(path);
  if (!sink.ok()) fail(sink.status());
  auto writer = arrow::ipc::MakeStreamWriter(*sink, batch->schema());
  if (!writer.ok()) fail(writer.status());
  arrow::Status st = (*writer)->WriteRecordBatch(*batch);
  if (st.ok()) st = (*writer)->Close();
  if (st.ok()) st = (*sink)->Close();
  if (!st.ok()) fail(st);
}

std::string Hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

// --- the peer -------------------------------------------------------------------

class Peer {
 public:
  // Fills `out` with the op's results; throws VgisError on a rejection.
  void Handle(const std::string& op, const Value& req, Value* out) {
    if (op == "hello") return Hello(out);
    if (op == "shutdown") return Shutdown();
    if (op == "create" || op == "attach") {
      std::unique_ptr<vgis::Segment> seg =
          op == "create" ? vgis::Segment::Create(StrArg(req, "name"), U64Arg(req, "size"))
                         : vgis::Segment::Attach(StrArg(req, "name"), OptU64Arg(req, "size"));
      std::string handle = "s" + std::to_string(++count_);
      out->set("segment", Value::Str(handle));
      out->set("name", Value::Str(seg->name()));
      out->set("size", Value::U64(seg->size()));
      segments_[handle] = std::move(seg);
      return;
    }
    if (op == "close") return Seg(req).Close();
    if (op == "unlink") return Seg(req).Unlink();
    if (op == "header") {
      vgis::Segment& seg = Seg(req);
      uint64_t length = std::min<uint64_t>(U64Arg(req, "length"), vgis::kHeaderSize);
      out->set("hex", Value::Str(Hex(seg.data(), static_cast<size_t>(length))));
      return;
    }
    if (op == "write") {
      vgis::Segment& seg = Seg(req);
      FileContents file = ReadFile(StrArg(req, "batch"));
      if (!file.batch) throw BadRequest("WRITE-4", "batch file holds no batch");
      auto placed = vgis::WriteBatch(seg, *file.batch);
      out->set("offset", placed ? Value::U64(placed->first) : Value::Null());
      out->set("length", placed ? Value::U64(placed->second) : Value::Null());
      return;
    }
    if (op == "resolve") {
      vgis::Segment& seg = Seg(req);
      FileContents file = ReadFile(StrArg(req, "batch"));
      std::string path = StrArg(req, "out");
      auto given = file.batch ? file.batch : vgis::EmptyBatch(file.schema);
      vgis::Resolved res = vgis::Resolve(given, MetadataArg(req), seg);
      SaveBatch(path, res.batch);
      out->set("pointer", Value::Bool(res.release_offset.has_value()));
      out->set("metadata", MetadataJson(res.metadata));
      out->set("release_offset", OptU64(res.release_offset));
      return;
    }
    // Optional capabilities.
    if (op == "allocate") {
      out->set("offset", OptU64(Seg(req).allocator().Allocate(U64Arg(req, "size"))));
      return;
    }
    if (op == "free") return Seg(req).allocator().Free(U64Arg(req, "offset"));
    if (op == "allocations") {
      Value entries = Value::Arr();
      for (const auto& e : Seg(req).allocator().entries()) {
        entries.push(Value::Arr({Value::U64(e.first), Value::U64(e.second)}));
      }
      out->set("entries", std::move(entries));
      return;
    }
    if (op == "shrink") return Seg(req).allocator().Shrink(U64Arg(req, "offset"), U64Arg(req, "length"));
    if (op == "reset") return Seg(req).allocator().Reset();
    if (op == "read") {
      vgis::Segment& seg = Seg(req);
      uint64_t offset = U64Arg(req, "offset");
      uint64_t length = U64Arg(req, "length");
      FileContents file = ReadFile(StrArg(req, "schema"));
      std::string path = StrArg(req, "out");
      auto batch = vgis::ReadBatch(seg, offset, length, file.schema);
      SaveBatch(path, batch);
      out->set("rows", Value::I64(batch->num_rows()));
      return;
    }
    if (op == "make_pointer") {
      uint64_t offset = U64Arg(req, "offset");
      uint64_t length = U64Arg(req, "length");
      FileContents file = ReadFile(StrArg(req, "schema"));
      SaveBatch(StrArg(req, "out"), vgis::EmptyBatch(file.schema));
      out->set("metadata", MetadataJson(vgis::PointerKeys(offset, length)));
      return;
    }
    if (op == "maybe_write") {
      vgis::Segment& seg = Seg(req);
      FileContents file = ReadFile(StrArg(req, "batch"));
      std::string path = StrArg(req, "out");
      auto given = file.batch ? file.batch : vgis::EmptyBatch(file.schema);
      vgis::MaybeWritten res = vgis::MaybeWrite(given, MetadataArg(req), seg);
      SaveBatch(path, res.batch);
      out->set("pointer", Value::Bool(res.pointer));
      out->set("metadata", MetadataJson(res.metadata));
      return;
    }
    if (op == "advertise") {
      out->set("metadata", MetadataJson(vgis::Advertise(Seg(req))));
      return;
    }
    if (op == "bench") return Bench(req, out);
    throw vgis::Unsupported("-", "unknown or unsupported op '" + op + "'");
  }

  // Closes every segment and unlinks the ones this peer created.
  void Shutdown() {
    for (auto& kv : segments_) {
      kv.second->Close();
      if (kv.second->owner() && !kv.second->unlinked()) {
        try {
          kv.second->Unlink();
        } catch (const std::exception& e) {
          std::fprintf(stderr, "vgis-peer-cpp: shutdown: %s\n", e.what());
        }
      }
    }
    segments_.clear();
  }

 private:
  // The bench operation: the batch file is read before any clock starts.
  void Bench(const Value& req, Value* out) {
    std::string action = StrArg(req, "action");
    uint64_t repeat = U64Arg(req, "repeat");
    if (repeat == 0) throw BadRequest("-", "repeat must be at least 1");
    auto batch_of = [&]() {
      FileContents file = ReadFile(StrArg(req, "batch"));
      if (!file.batch || file.batch->num_rows() == 0) throw BadRequest("-", "the batch file holds no batch with rows");
      return file.batch;
    };
    vgis::BenchResult res;
    if (action == "write") {
      auto batch = batch_of();
      res = vgis::BenchWrite(Seg(req), *batch, repeat);
    } else if (action == "resolve") {
      FileContents file = ReadFile(StrArg(req, "batch"));
      res = vgis::BenchResolve(Seg(req), file.schema, U64Arg(req, "offset"), U64Arg(req, "length"), repeat);
    } else if (action == "memcpy") {
      res = vgis::BenchMemcpy(Seg(req), U64Arg(req, "length"), repeat);
    } else if (action == "pipe_write") {
      auto batch = batch_of();
      res = vgis::BenchPipeWrite(StrArg(req, "path"), *batch, repeat);
    } else if (action == "pipe_read") {
      res = vgis::BenchPipeRead(StrArg(req, "path"), repeat);
    } else {
      throw BadRequest("-", "unknown bench action '" + action + "' (write, resolve, memcpy, pipe_write, pipe_read)");
    }
    Value seconds = Value::Arr();
    for (double s : res.seconds) seconds.push(Value::Double(s));
    out->set("seconds", std::move(seconds));
    out->set("bytes", Value::U64(res.bytes));
  }

  vgis::Segment& Seg(const Value& req) {
    std::string handle = StrArg(req, "segment");
    auto it = segments_.find(handle);
    if (it == segments_.end()) throw BadRequest("-", "unknown segment handle '" + handle + "'");
    return *it->second;
  }

  void Hello(Value* out) {
    out->set("name", Value::Str("cpp"));
    out->set("version", Value::Str(kPeerVersion));
    out->set("language", Value::Str("c++"));
    Value arrow_info = Value::Obj();
    arrow_info.set("library", Value::Str("arrow-cpp"));
    arrow_info.set("version", Value::Str(arrow::GetBuildInfo().version_string));
    out->set("arrow", std::move(arrow_info));
    Value caps = Value::Arr();
    for (const char* c : kCapabilities) caps.push(Value::Str(c));
    out->set("capabilities", std::move(caps));
    out->set("protocol", Value::U64(1));
    out->set("min_batch_bytes", Value::U64(0));
  }

  std::map<std::string, std::unique_ptr<vgis::Segment>> segments_;
  uint64_t count_ = 0;
};

Value ErrorResponse(const Value& id, const std::string& kind, const std::string& message) {
  Value resp = Value::Obj();
  resp.set("id", id);
  resp.set("ok", Value::Bool(false));
  Value error = Value::Obj();
  error.set("kind", Value::Str(kind));
  error.set("message", Value::Str(message));
  resp.set("error", std::move(error));
  return resp;
}

void Send(const Value& resp) {
  std::string line = resp.dump();
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

int main() {
  std::signal(SIGPIPE, SIG_IGN);
  std::ios::sync_with_stdio(false);
  Peer peer;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Value id;
    std::string op;
    Value resp;
    try {
      Value req;
      try {
        req = json::Parse(line);
      } catch (const std::exception& e) {
        throw BadRequest("-", e.what());
      }
      if (!req.is_object()) throw BadRequest("-", "a request must be a JSON object");
      if (const Value* v = req.get("id")) id = *v;
      op = StrArg(req, "op");
      Value result = Value::Obj();
      peer.Handle(op, req, &result);
      resp = Value::Obj();
      resp.set("id", id);
      resp.set("ok", Value::Bool(true));
      for (const auto& kv : result.members()) resp.set(kv.first, kv.second);
    } catch (const vgis::VgisError& e) {
      resp = ErrorResponse(id, e.kind(), e.what());
    } catch (const std::bad_alloc&) {
      resp = ErrorResponse(id, "internal", "out of memory");
    } catch (const std::exception& e) {
      resp = ErrorResponse(id, "internal", e.what());
    } catch (...) {
      resp = ErrorResponse(id, "internal", "unknown exception");
    }
    Send(resp);
    if (op == "shutdown") return 0;
  }
  peer.Shutdown();  // end of stdin
  return 0;
}
