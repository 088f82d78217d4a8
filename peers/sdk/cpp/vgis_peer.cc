// The C++ peer SDK (vgis_peer.h): the request loop, handles, arguments,
// files, bench dispatch and error capture of docs/peer-protocol.md.

#include "vgis_peer.h"

#include <arrow/io/file.h>
#include <arrow/ipc/api.h>
#include <arrow/util/config.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <new>

namespace vgis_peer {

namespace {

constexpr uint64_t kHeaderSize = 65536;

Error BadRequest(const std::string& message) { return Error::Of(kind::kBadRequest, "-", message); }

Json MetadataJson(const Metadata& md) {
  Json out = Json::object();
  for (const auto& kv : md) out[kv.first] = kv.second;
  return out;
}

Json OptU64(const std::optional<uint64_t>& v) { return v ? Json(*v) : Json(nullptr); }

std::string Hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * bytes.size(), '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = digits[b >> 4];
    out[2 * i + 1] = digits[b & 15];
  }
  return out;
}

// A JSON integer in 0..2^64-1 ("-0" included), else nullopt.
std::optional<uint64_t> AsU64(const Json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() == 0) return 0;
  return std::nullopt;
}

void DumpTo(const Json& v, std::string* out) {
  if (v.is_object()) {
    out->push_back('{');
    bool first = true;
    for (const auto& item : v.items()) {
      if (!first) *out += ", ";
      first = false;
      *out += Json(item.key()).dump(-1, ' ', false, Json::error_handler_t::replace);
      *out += ": ";
      DumpTo(item.value(), out);
    }
    out->push_back('}');
  } else if (v.is_array()) {
    out->push_back('[');
    bool first = true;
    for (const auto& item : v) {
      if (!first) *out += ", ";
      first = false;
      DumpTo(item, out);
    }
    out->push_back(']');
  } else {
    *out += v.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
}

}  // namespace

std::string Dump(const Json& value) {
  std::string out;
  DumpTo(value, &out);
  return out;
}

[[noreturn]] void Unsupported(const std::string& op) {
  throw Error::Of(kind::kUnsupported, "-", "unknown or unsupported op '" + op + "'");
}

// --- files ----------------------------------------------------------------------

BatchFile ReadBatchFile(const std::string& path) {
  auto file = arrow::io::ReadableFile::Open(path);
  if (!file.ok()) throw BadRequest("cannot open '" + path + "': " + file.status().ToString());
  auto reader = arrow::ipc::RecordBatchStreamReader::Open(*file);
  if (!reader.ok()) {
    throw Error::Of(kind::kIpcError, "-",
                    "'" + path + "' is not an Arrow IPC stream: " + reader.status().ToString());
  }
  BatchFile out;
  out.schema = (*reader)->schema();
  arrow::Status st = (*reader)->ReadNext(&out.batch);
  if (!st.ok()) throw Error::Of(kind::kIpcError, "-", "cannot read the batch of '" + path + "': " + st.ToString());
  if (out.batch) {
    st = out.batch->ValidateFull();
    if (!st.ok()) throw Error::Of(kind::kIpcError, "-", "the batch of '" + path + "' is invalid: " + st.ToString());
  }
  return out;
}

void WriteBatchFile(const std::string& path, const BatchPtr& batch) {
  auto fail = [&](const arrow::Status& st) {
    throw Error::Of(kind::kInternal, "-", "cannot write '" + path + "': " + st.ToString());
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

// An answer that carries a batch: the batch goes to the request's out file, its metadata into the answer.
void AnswerBatch(const std::string& path, const BatchPtr& batch, const Metadata& md, Json* out) {
  WriteBatchFile(path, batch);
  (*out)["metadata"] = MetadataJson(md);
}

BatchPtr EmptyBatch(const SchemaPtr& schema) {
  auto made = arrow::RecordBatch::MakeEmpty(schema);
  if (!made.ok()) throw Error::Of(kind::kInternal, "-", "cannot make an empty batch: " + made.status().ToString());
  return *made;
}

// --- arguments --------------------------------------------------------------------

const Json& Request::Arg(const char* key) const {
  auto it = body_.find(key);
  if (it == body_.end()) throw BadRequest(std::string("request lacks '") + key + "'");
  return *it;
}

std::string Request::Str(const char* key) const {
  const Json& v = Arg(key);
  if (!v.is_string()) throw BadRequest(std::string("'") + key + "' must be a string");
  return v.get<std::string>();
}

uint64_t Request::U64(const char* key) const {
  auto n = AsU64(Arg(key));
  if (!n) throw BadRequest(std::string("'") + key + "' must be an integer in 0..2^64-1");
  return *n;
}

std::optional<uint64_t> Request::OptU64(const char* key) const {
  auto it = body_.find(key);
  if (it == body_.end() || it->is_null()) return std::nullopt;
  auto n = AsU64(*it);
  if (!n) throw BadRequest(std::string("'") + key + "' must be null or an integer in 0..2^64-1");
  return n;
}

Metadata Request::Meta() const {
  Metadata md;
  auto it = body_.find("metadata");
  if (it == body_.end() || it->is_null()) return md;
  if (!it->is_object()) throw BadRequest("'metadata' must be an object of strings");
  for (const auto& kv : it->items()) {
    if (!kv.value().is_string()) throw BadRequest("metadata value of '" + kv.key() + "' is not a string");
    md.emplace_back(kv.key(), kv.value().get<std::string>());
  }
  return md;
}

// --- defaults: unsupported ---------------------------------------------------------

std::optional<uint64_t> Segment::Allocate(uint64_t) { Unsupported("allocate"); }
void Segment::Free(uint64_t) { Unsupported("free"); }
std::vector<Region> Segment::Allocations() { Unsupported("allocations"); }
void Segment::Shrink(uint64_t, uint64_t) { Unsupported("shrink"); }
void Segment::Reset() { Unsupported("reset"); }
BatchPtr Segment::Read(uint64_t, uint64_t, const SchemaPtr&) { Unsupported("read"); }
MaybeWritten Segment::MaybeWrite(const BatchPtr&, const Metadata&) { Unsupported("maybe_write"); }
Metadata Segment::Advertise() { Unsupported("advertise"); }

std::unique_ptr<Segment> Backend::Create(const std::string&, uint64_t) { Unsupported("create"); }
std::unique_ptr<Segment> Backend::Attach(const std::string&, std::optional<uint64_t>) { Unsupported("attach"); }
PointerBatch Backend::MakePointer(const SchemaPtr&, uint64_t, uint64_t) { Unsupported("make_pointer"); }
BenchResult Backend::BenchWrite(Segment&, const arrow::RecordBatch&, uint64_t) { Unsupported("bench"); }
BenchResult Backend::BenchResolve(Segment&, const SchemaPtr&, uint64_t, uint64_t, uint64_t) { Unsupported("bench"); }
BenchResult Backend::BenchMemcpy(Segment&, uint64_t, uint64_t) { Unsupported("bench"); }
BenchResult Backend::BenchPipeWrite(const std::string&, const arrow::RecordBatch&, uint64_t) { Unsupported("bench"); }
BenchResult Backend::BenchPipeRead(const std::string&, uint64_t) { Unsupported("bench"); }
std::optional<std::string> Backend::KindOf(const std::exception&) { return std::nullopt; }

// --- the loop -------------------------------------------------------------------------

class Loop {
 public:
  explicit Loop(Backend& backend) : backend_(backend), info_(backend.Hello()) {}

  // The response to one request line; `stop` after shutdown.
  Json Answer(const std::string& line, bool* stop) {
    Json id = nullptr;
    std::string op;
    Json result = Json::object();
    try {
      Json body;
      try {
        body = Json::parse(line);
      } catch (const std::exception& e) {
        throw BadRequest(e.what());
      }
      if (!body.is_object()) throw BadRequest("a request must be a JSON object");
      if (auto it = body.find("id"); it != body.end()) id = *it;
      Request req(std::move(body));
      op = req.op_ = req.Str("op");
      Dispatch(req, &result);
    } catch (const Error& e) {
      return Failure(id, e.kind(), e.what());
    } catch (const std::bad_alloc&) {
      return Failure(id, kind::kInternal, "out of memory");
    } catch (const std::exception& e) {
      return Failure(id, backend_.KindOf(e).value_or(kind::kInternal), e.what());
    } catch (...) {
      return Failure(id, kind::kInternal, "unknown exception");
    }
    Json resp = Json::object();
    resp["id"] = id;
    resp["ok"] = true;
    for (auto& item : result.items()) resp[item.key()] = std::move(item.value());
    *stop = op == "shutdown";
    return resp;
  }

  // The first declared capability the protocol does not define, or "".
  std::string UnknownCapability() const {
    static const char* const kKnown[] = {"allocate", "allocations", "shrink", "reset", "read", "make_pointer",
                                         "maybe_write", "advertise", "bench", "named_create"};
    for (const auto& c : info_.capabilities) {
      bool known = false;
      for (const char* k : kKnown) known = known || c == k;
      if (!known) return c;
    }
    return "";
  }

  // Closes every open segment and unlinks every created one not yet unlinked.
  void Shutdown() {
    for (auto& kv : handles_) {
      Handle& h = kv.second;
      try {
        if (!h.closed) {
          h.closed = true;
          h.seg->Close();
        }
        if (h.created && !h.unlinked) {
          h.unlinked = true;
          h.seg->Unlink();
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: shutdown: %s\n", info_.name.c_str(), e.what());
      }
    }
    handles_.clear();
  }

 private:
  struct Handle {
    std::unique_ptr<Segment> seg;
    bool created = false;
    bool closed = false;
    bool unlinked = false;
  };

  static Json Failure(const Json& id, const std::string& kind, const std::string& message) {
    Json resp = Json::object();
    resp["id"] = id;
    resp["ok"] = false;
    resp["error"] = Json::object();
    resp["error"]["kind"] = kind;
    resp["error"]["message"] = message;
    return resp;
  }

  bool Declared(const std::string& capability) const {
    for (const auto& c : info_.capabilities) {
      if (c == capability) return true;
    }
    return false;
  }

  Handle& Find(const Request& req) {
    std::string id = req.Str("segment");
    auto it = handles_.find(id);
    if (it == handles_.end()) throw BadRequest("unknown segment handle '" + id + "'");
    return it->second;
  }

  // The open segment a request names.
  Segment& Open(const Request& req) {
    Handle& h = Find(req);
    if (h.closed) throw BadRequest("segment '" + h.seg->Name() + "' is closed");
    return *h.seg;
  }

  void Keep(std::unique_ptr<Segment> seg, bool created, Json* out) {
    std::string id = "s" + std::to_string(++count_);
    (*out)["segment"] = id;
    (*out)["name"] = seg->Name();
    (*out)["size"] = seg->Size();
    handles_[id] = Handle{std::move(seg), created};
  }

  // The batch argument; a file without a batch gives a zero-row one.
  static BatchPtr BatchOrEmpty(const Request& req, const char* key) {
    BatchFile file = req.File(key);
    return file.batch ? file.batch : EmptyBatch(file.schema);
  }

  // The arguments resolve and maybe_write share, all read before either runs.
  struct PointerArgs {
    Segment& seg;
    BatchPtr given;
    Metadata metadata;
    std::string path;
  };

  PointerArgs PointerArgsOf(const Request& req) {
    Segment& seg = Open(req);
    BatchPtr given = BatchOrEmpty(req, "batch");
    return PointerArgs{seg, given, req.Meta(), req.Str("out")};
  }

  void Dispatch(const Request& req, Json* out) {
    const std::string& op = req.op();
    static const char* const kOptional[] = {"allocate", "free", "allocations", "shrink", "reset", "read",
                                            "make_pointer", "maybe_write", "advertise", "bench"};
    for (const char* name : kOptional) {
      if (op == name && !Declared(op == "free" ? "allocate" : op)) Unsupported(op);
    }
    if (op == "hello") return Hello(out);
    if (op == "shutdown") return Shutdown();
    if (op == "create") {
      std::string name = req.Str("name");
      return Keep(backend_.Create(name, req.U64("size")), true, out);
    }
    if (op == "attach") {
      std::string name = req.Str("name");
      return Keep(backend_.Attach(name, req.OptU64("size")), false, out);
    }
    if (op == "close") {
      Handle& h = Find(req);
      if (!h.closed) {
        h.closed = true;
        h.seg->Close();
      }
      return;
    }
    if (op == "unlink") {
      Handle& h = Find(req);
      if (!h.created) {
        throw Error::Of(kind::kBadRequest, "LIFE-10", "an attacher must not unlink '" + h.seg->Name() + "'");
      }
      h.seg->Unlink();
      h.unlinked = true;
      return;
    }
    if (op == "header") {
      Segment& seg = Open(req);
      uint64_t length = req.U64("length");
      if (length > kHeaderSize || length > seg.Size()) {
        throw Error::Of(kind::kOutOfBounds, "-",
                        "header length " + std::to_string(length) + " exceeds the header (65536 bytes)");
      }
      (*out)["hex"] = Hex(seg.Header(length));
      return;
    }
    if (op == "write") {
      Segment& seg = Open(req);
      BatchFile file = req.File("batch");
      if (!file.batch) throw Error::Of(kind::kBadRequest, "WRITE-4", "batch file holds no batch");
      auto placed = seg.Write(*file.batch);
      (*out)["offset"] = placed ? Json(placed->first) : Json(nullptr);
      (*out)["length"] = placed ? Json(placed->second) : Json(nullptr);
      return;
    }
    if (op == "resolve") {
      PointerArgs args = PointerArgsOf(req);
      Resolution res = args.seg.Resolve(args.given, args.metadata);
      AnswerBatch(args.path, res.batch, res.metadata, out);
      (*out)["pointer"] = res.release_offset.has_value();
      (*out)["release_offset"] = OptU64(res.release_offset);
      return;
    }
    if (op == "allocate") {
      Segment& seg = Open(req);
      (*out)["offset"] = OptU64(seg.Allocate(req.U64("size")));
      return;
    }
    if (op == "free") {
      Segment& seg = Open(req);
      return seg.Free(req.U64("offset"));
    }
    if (op == "allocations") {
      Json entries = Json::array();
      for (const auto& e : Open(req).Allocations()) entries.push_back(Json::array({e.first, e.second}));
      (*out)["entries"] = std::move(entries);
      return;
    }
    if (op == "shrink") {
      Segment& seg = Open(req);
      uint64_t offset = req.U64("offset");
      return seg.Shrink(offset, req.U64("length"));
    }
    if (op == "reset") return Open(req).Reset();
    if (op == "read") {
      Segment& seg = Open(req);
      uint64_t offset = req.U64("offset");
      uint64_t length = req.U64("length");
      BatchFile file = req.File("schema");
      std::string path = req.Str("out");
      BatchPtr batch = seg.Read(offset, length, file.schema);
      WriteBatchFile(path, batch);
      (*out)["rows"] = batch->num_rows();
      return;
    }
    if (op == "make_pointer") {
      uint64_t offset = req.U64("offset");
      uint64_t length = req.U64("length");
      BatchFile file = req.File("schema");
      std::string path = req.Str("out");
      PointerBatch made = backend_.MakePointer(file.schema, offset, length);
      AnswerBatch(path, made.batch, made.metadata, out);
      return;
    }
    if (op == "maybe_write") {
      PointerArgs args = PointerArgsOf(req);
      MaybeWritten res = args.seg.MaybeWrite(args.given, args.metadata);
      AnswerBatch(args.path, res.batch, res.metadata, out);
      (*out)["pointer"] = res.pointer;
      return;
    }
    if (op == "advertise") {
      (*out)["metadata"] = MetadataJson(Open(req).Advertise());
      return;
    }
    if (op == "bench") return Bench(req, out);
    Unsupported(op);
  }

  void Bench(const Request& req, Json* out) {
    std::string action = req.Str("action");
    uint64_t repeat = req.U64("repeat");
    if (repeat == 0) throw BadRequest("repeat must be at least 1");
    auto batch_with_rows = [&]() {
      BatchFile file = req.File("batch");
      if (!file.batch || file.batch->num_rows() == 0) throw BadRequest("the batch file holds no batch with rows");
      return file.batch;
    };
    BenchResult res;
    if (action == "write") {
      BatchPtr batch = batch_with_rows();
      res = backend_.BenchWrite(Open(req), *batch, repeat);
    } else if (action == "resolve") {
      BatchFile file = req.File("batch");
      Segment& seg = Open(req);
      uint64_t offset = req.U64("offset");
      res = backend_.BenchResolve(seg, file.schema, offset, req.U64("length"), repeat);
    } else if (action == "memcpy") {
      Segment& seg = Open(req);
      res = backend_.BenchMemcpy(seg, req.U64("length"), repeat);
    } else if (action == "pipe_write") {
      BatchPtr batch = batch_with_rows();
      res = backend_.BenchPipeWrite(req.Str("path"), *batch, repeat);
    } else if (action == "pipe_read") {
      res = backend_.BenchPipeRead(req.Str("path"), repeat);
    } else {
      throw BadRequest("unknown bench action '" + action + "' (write, resolve, memcpy, pipe_write, pipe_read)");
    }
    (*out)["seconds"] = res.seconds;
    (*out)["bytes"] = res.bytes;
    if (!res.minor_faults.empty() && res.minor_faults.size() == res.seconds.size()) {
      (*out)["minor_faults"] = res.minor_faults;
    }
  }

  void Hello(Json* out) {
    (*out)["name"] = info_.name;
    (*out)["version"] = info_.version;
    (*out)["language"] = info_.language;
    (*out)["arrow"] = Json::object();
    (*out)["arrow"]["library"] = info_.arrow_library;
    (*out)["arrow"]["version"] = arrow::GetBuildInfo().version_string;
    (*out)["capabilities"] = info_.capabilities;
    (*out)["protocol"] = kProtocolVersion;
    if (info_.min_batch_bytes) (*out)["min_batch_bytes"] = *info_.min_batch_bytes;
  }

  Backend& backend_;
  Info info_;
  std::map<std::string, Handle> handles_;
  uint64_t count_ = 0;
};

int Serve(Backend& backend, std::istream& in, std::ostream& out) {
  Loop loop(backend);
  if (std::string unknown = loop.UnknownCapability(); !unknown.empty()) {
    std::fprintf(stderr, "vgis_peer: unknown capability '%s' declared\n", unknown.c_str());
    return 2;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    bool stop = false;
    std::string text = Dump(loop.Answer(line, &stop));
    text.push_back('\n');
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) {
      std::fprintf(stderr, "vgis_peer: stdout closed\n");
      loop.Shutdown();
      return 1;
    }
    if (stop) return 0;
  }
  loop.Shutdown();  // end of input
  return 0;
}

int Run(Backend& backend) {
  std::signal(SIGPIPE, SIG_IGN);
  std::ios::sync_with_stdio(false);
  return Serve(backend, std::cin, std::cout);
}

}  // namespace vgis_peer
