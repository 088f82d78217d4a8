// Tests of the C++ peer SDK over a fake backend, the edge cases of
// peers/sdk/go/run_test.go: `python3 arrow_build.py test` builds and runs them.

#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "vgis_peer.h"

namespace {

using vgis_peer::Json;

int failures = 0;

void Expect(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "FAIL: " << what << "\n";
    ++failures;
  }
}

struct Counts {
  int closed = 0;
  int unlinked = 0;
};

class FakeSegment : public vgis_peer::Segment {
 public:
  FakeSegment(std::string name, uint64_t size, Counts* counts) : name_(std::move(name)), size_(size), counts_(counts) {}
  std::string Name() const override { return name_; }
  uint64_t Size() const override { return size_; }
  std::string Header(uint64_t length) override { return std::string(static_cast<size_t>(length), '\xab'); }
  void Close() override { ++counts_->closed; }
  void Unlink() override { ++counts_->unlinked; }
  std::optional<vgis_peer::Region> Write(const arrow::RecordBatch&) override { return std::nullopt; }
  vgis_peer::Resolution Resolve(const vgis_peer::BatchPtr& batch, const vgis_peer::Metadata& md) override {
    return {batch, md, std::nullopt};
  }
  void Reset() override {}

 private:
  std::string name_;
  uint64_t size_;
  Counts* counts_;
};

struct LibraryError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class FakeBackend : public vgis_peer::Backend {
 public:
  explicit FakeBackend(std::vector<std::string> caps) : caps_(std::move(caps)) {}
  vgis_peer::Info Hello() override {
    vgis_peer::Info info;
    info.name = "fake";
    info.version = "0";
    info.capabilities = caps_;
    return info;
  }
  std::unique_ptr<vgis_peer::Segment> Create(const std::string& name, uint64_t size) override {
    if (size <= 65536) throw vgis_peer::Error::Of(vgis_peer::kind::kBadRequest, "LIFE-1", "too small");
    if (name == "/lib") throw LibraryError("the library refused");
    return std::make_unique<FakeSegment>(name, size, &counts);
  }
  std::unique_ptr<vgis_peer::Segment> Attach(const std::string&, std::optional<uint64_t>) override {
    throw std::logic_error("attach exploded");
  }
  std::optional<std::string> KindOf(const std::exception& e) override {
    if (dynamic_cast<const LibraryError*>(&e) != nullptr) return std::string(vgis_peer::kind::kBadName);
    return std::nullopt;
  }
  Counts counts;

 private:
  std::vector<std::string> caps_;
};

std::vector<Json> Serve(vgis_peer::Backend& backend, const std::vector<std::string>& lines, int* status) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  std::istringstream in(text);
  std::ostringstream out;
  *status = vgis_peer::Serve(backend, in, out);
  std::vector<Json> got;
  std::istringstream responses(out.str());
  std::string line;
  while (std::getline(responses, line)) got.push_back(Json::parse(line));
  return got;
}

std::string Kind(const Json& r) {
  if (!r.contains("error")) return "";
  return r["error"]["kind"].get<std::string>();
}

void TestLoop() {
  FakeBackend backend({"reset"});
  int status = -1;
  auto got = Serve(backend, {
                                R"({"id": 18446744073709551615, "op": "hello"})",
                                R"({"id": 2, "op": "create", "name": "/a", "size": 65536})",
                                R"({"id": 3, "op": "create", "name": "/a", "size": 18446744073709551615})",
                                R"({"id": 4, "op": "create", "name": "/a", "size": -1})",
                                R"({"id": 5, "op": "attach", "name": "/a", "size": null})",
                                R"({"id": 6, "op": "header", "segment": "s1", "length": 4})",
                                R"({"id": 7, "op": "allocate", "segment": "s1", "size": 8})",
                                R"({"id": 8, "op": "bogus"})",
                                "not json",
                                R"({"id": 9, "op": "reset", "segment": "s1"})",
                                R"({"id": 10, "op": "close", "segment": "s1"})",
                                R"({"id": 11, "op": "header", "segment": "s1", "length": 4})",
                                R"({"id": 12, "op": "create", "name": "/a", "size": 18446744073709551616})",
                                R"({"id": 13, "op": "create", "name": "/a", "size": 1.0})",
                                R"({"id": 14, "op": "create", "name": "/lib", "size": 70000})",
                                R"({"id": 15, "op": "create", "name": "/b", "size": 70000})",
                                R"({"id": 16, "op": "header", "segment": "s2", "length": 65537})",
                                R"({"id": 17, "op": "header", "segment": "s2", "length": 65536})",
                                R"({"id": 18, "op": "header", "segment": "s9", "length": 1})",
                                R"({"id": 19, "op": "close", "segment": "s1"})",
                                R"({"id": 20, "op": "unlink", "segment": "s1"})",
                                R"({"id": 21, "op": "create", "name": "/a", "size": "70000"})",
                                R"({"id": 22, "op": "shutdown"})",
                                R"({"id": 23, "op": "hello"})",
                            },
                   &status);
  Expect(status == 0, "exit status 0");
  Expect(got.size() == 23, "23 responses, nothing after shutdown: got " + std::to_string(got.size()));
  if (got.size() != 23) return;
  Expect(got[0]["id"].is_number_unsigned() && got[0]["id"].get<uint64_t>() == UINT64_MAX, "u64 id echoed exactly");
  Expect(got[0]["capabilities"] == Json::array({"reset"}), "capabilities as declared");
  Expect(got[0]["protocol"] == 1 && got[0]["language"] == "c++" && !got[0].contains("min_batch_bytes"), "hello");
  const char* want[][2] = {{"1", "bad_request"}, {"3", "bad_request"}, {"4", "internal"}, {"6", "unsupported"},
                           {"7", "unsupported"}, {"8", "bad_request"}, {"11", "bad_request"}, {"12", "bad_request"},
                           {"13", "bad_request"}, {"14", "bad_name"}, {"16", "out_of_bounds"}, {"18", "bad_request"},
                           {"21", "bad_request"}};
  for (const auto& w : want) {
    size_t i = std::stoul(w[0]);
    Expect(Kind(got[i]) == w[1], "response " + std::string(w[0]) + ": " + got[i].dump() + ", want " + w[1]);
  }
  Expect(got[2]["size"].get<uint64_t>() == UINT64_MAX && got[2]["segment"] == "s1", "create: " + got[2].dump());
  Expect(got[4]["error"]["message"] == "attach exploded", "an exception's message: " + got[4].dump());
  Expect(got[5]["hex"] == "abababab", "header: " + got[5].dump());
  Expect(got[8]["id"].is_null(), "not json answers id null");
  Expect(got[10]["ok"] == true, "close");
  Expect(got[11]["error"]["message"] == "[-] segment '/a' is closed", "closed: " + got[11].dump());
  Expect(got[17]["hex"].get<std::string>().size() == 2 * 65536, "header of 65,536 bytes");
  Expect(got[19]["ok"] == true && got[20]["ok"] == true, "close again and unlink of a closed handle");
  Expect(got[22]["ok"] == true, "shutdown: " + got[22].dump());
  Expect(backend.counts.closed == 2 && backend.counts.unlinked == 2, "shutdown closed and unlinked each once");
}

void TestShutdownClosesAndUnlinksOnce() {
  FakeBackend backend({});
  int status = -1;
  Serve(backend, {R"({"id": 1, "op": "create", "name": "/a", "size": 70000})",
                  R"({"id": 2, "op": "close", "segment": "s1"})"},
        &status);
  Expect(status == 0 && backend.counts.closed == 1 && backend.counts.unlinked == 1,
         "end of input: closed " + std::to_string(backend.counts.closed) + ", unlinked " +
             std::to_string(backend.counts.unlinked) + " times; want once each");
}

void TestAttacherNeverUnlinks() {
  class AttachingBackend : public FakeBackend {
   public:
    AttachingBackend() : FakeBackend({}) {}
    std::unique_ptr<vgis_peer::Segment> Attach(const std::string& name, std::optional<uint64_t>) override {
      return std::make_unique<FakeSegment>(name, 70000, &counts);
    }
  } backend;
  int status = -1;
  auto got = Serve(backend, {R"({"id": 1, "op": "attach", "name": "/a", "size": null})",
                             R"({"id": 2, "op": "unlink", "segment": "s1"})"},
                   &status);
  Expect(got.size() == 2 && Kind(got[1]) == "bad_request", "an attacher's unlink is bad_request");
  Expect(backend.counts.closed == 1 && backend.counts.unlinked == 0, "shutdown closes an attached segment only");
}

void TestUnknownCapabilityIsRefused() {
  FakeBackend backend({"reset", "teleport"});
  int status = -1;
  auto got = Serve(backend, {R"({"id": 1, "op": "hello"})"}, &status);
  Expect(status == 2 && got.empty(), "an unknown capability: exit status " + std::to_string(status));
}

void TestDumpSeparatorsAndUtf8() {
  Json v = Json::object();
  v["id"] = 1;
  v["ok"] = true;
  v["s"] = std::string("a\xff");
  v["l"] = Json::array({1, 2});
  Expect(vgis_peer::Dump(v) == "{\"id\": 1, \"ok\": true, \"s\": \"a\xef\xbf\xbd\", \"l\": [1, 2]}",
         "dump: " + vgis_peer::Dump(v));
}

}  // namespace

int main() {
  TestLoop();
  TestShutdownClosesAndUnlinksOnce();
  TestAttacherNeverUnlinks();
  TestUnknownCapabilityIsRefused();
  TestDumpSeparatorsAndUtf8();
  if (failures == 0) std::cout << "vgis_peer tests: ok\n";
  return failures == 0 ? 0 : 1;
}
