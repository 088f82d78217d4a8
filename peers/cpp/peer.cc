// vgis-peer-cpp: this folder's C++ implementation of VGIS v1 (docs/SPEC.md)
// behind the C++ peer SDK (peers/sdk/cpp), which speaks the protocol
// (docs/peer-protocol.md). The format lives in header/allocator/segment/
// framing/pointer/bench; this file only maps the SDK's calls onto them.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../sdk/cpp/vgis_peer.h"
#include "bench.h"
#include "errors.h"
#include "framing.h"
#include "pointer.h"
#include "segment.h"

namespace {

namespace sdk = vgis_peer;

class CppSegment : public sdk::Segment {
 public:
  explicit CppSegment(std::unique_ptr<vgis::Segment> seg) : seg_(std::move(seg)) {}
  vgis::Segment& impl() { return *seg_; }

  std::string Name() const override { return seg_->name(); }
  uint64_t Size() const override { return seg_->size(); }
  std::string Header(uint64_t length) override {
    return std::string(reinterpret_cast<const char*>(seg_->data()), static_cast<size_t>(length));
  }
  void Close() override { seg_->Close(); }
  void Unlink() override { seg_->Unlink(); }
  std::optional<sdk::Region> Write(const arrow::RecordBatch& batch) override { return vgis::WriteBatch(*seg_, batch); }
  sdk::Resolution Resolve(const sdk::BatchPtr& batch, const sdk::Metadata& md) override {
    vgis::Resolved res = vgis::Resolve(batch, md, *seg_);
    return {res.batch, res.metadata, res.release_offset};
  }

  std::optional<uint64_t> Allocate(uint64_t size) override { return seg_->allocator().Allocate(size); }
  void Free(uint64_t offset) override { seg_->allocator().Free(offset); }
  std::vector<sdk::Region> Allocations() override {
    std::vector<sdk::Region> out;
    for (const auto& e : seg_->allocator().entries()) out.emplace_back(e.first, e.second);
    return out;
  }
  void Shrink(uint64_t offset, uint64_t length) override { seg_->allocator().Shrink(offset, length); }
  void Reset() override { seg_->allocator().Reset(); }
  sdk::BatchPtr Read(uint64_t offset, uint64_t length, const sdk::SchemaPtr& schema) override {
    return vgis::ReadBatch(*seg_, offset, length, schema);
  }
  sdk::MaybeWritten MaybeWrite(const sdk::BatchPtr& batch, const sdk::Metadata& md) override {
    vgis::MaybeWritten res = vgis::MaybeWrite(batch, md, *seg_);
    return {res.batch, res.metadata, res.pointer};
  }
  sdk::Metadata Advertise() override { return vgis::Advertise(*seg_); }

 private:
  std::unique_ptr<vgis::Segment> seg_;
};

vgis::Segment& Impl(sdk::Segment& seg) { return static_cast<CppSegment&>(seg).impl(); }

class CppBackend : public sdk::Backend {
 public:
  sdk::Info Hello() override {
    sdk::Info info;
    info.name = "cpp";
    info.version = "0.1.0";
    // Keep in step with peer.toml's `capabilities` (the harness refuses a peer
    // whose two lists differ).
    info.capabilities = {"allocate", "allocations", "shrink", "reset", "read", "make_pointer", "maybe_write",
                         "advertise", "bench", "named_create"};
    info.min_batch_bytes = 0;  // no size gate (WRITE-5)
    return info;
  }
  std::unique_ptr<sdk::Segment> Create(const std::string& name, uint64_t size) override {
    return std::make_unique<CppSegment>(vgis::Segment::Create(name, size));
  }
  std::unique_ptr<sdk::Segment> Attach(const std::string& name, std::optional<uint64_t> size) override {
    return std::make_unique<CppSegment>(vgis::Segment::Attach(name, size));
  }
  sdk::PointerBatch MakePointer(const sdk::SchemaPtr& schema, uint64_t offset, uint64_t length) override {
    return {vgis::EmptyBatch(schema), vgis::PointerKeys(offset, length)};
  }

  sdk::BenchResult BenchWrite(sdk::Segment& seg, const arrow::RecordBatch& batch, uint64_t repeat) override {
    return Convert(vgis::BenchWrite(Impl(seg), batch, repeat));
  }
  sdk::BenchResult BenchResolve(sdk::Segment& seg, const sdk::SchemaPtr& schema, uint64_t offset, uint64_t length,
                                uint64_t repeat) override {
    return Convert(vgis::BenchResolve(Impl(seg), schema, offset, length, repeat));
  }
  sdk::BenchResult BenchMemcpy(sdk::Segment& seg, uint64_t length, uint64_t repeat) override {
    return Convert(vgis::BenchMemcpy(Impl(seg), length, repeat));
  }
  sdk::BenchResult BenchPipeWrite(const std::string& path, const arrow::RecordBatch& batch, uint64_t repeat) override {
    return Convert(vgis::BenchPipeWrite(path, batch, repeat));
  }
  sdk::BenchResult BenchPipeRead(const std::string& path, uint64_t repeat) override {
    return Convert(vgis::BenchPipeRead(path, repeat));
  }

  // The format modules throw vgis::VgisError, whose kind is the protocol's.
  std::optional<std::string> KindOf(const std::exception& e) override {
    if (const auto* err = dynamic_cast<const vgis::VgisError*>(&e)) return err->kind();
    return std::nullopt;
  }

 private:
  static sdk::BenchResult Convert(vgis::BenchResult res) {
    return {std::move(res.seconds), res.bytes, std::move(res.minor_faults)};
  }
};

}  // namespace

int main() {
  CppBackend backend;
  return vgis_peer::Run(backend);
}
