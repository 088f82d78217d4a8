// POSIX shared-memory segments: create, attach, close, unlink (LIFE-*).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "allocator.h"

namespace vgis {

// "/" + name without its leading slashes (LIFE-9).
std::string CanonicalName(const std::string& name);

class Segment {
 public:
  // LIFE-1..3, LIFE-11: shm_open(O_CREAT|O_EXCL, 0600), ftruncate, fstat, mmap.
  static std::unique_ptr<Segment> Create(const std::string& name, uint64_t size);
  // LIFE-4..9, LIFE-12: fstat before mapping; the header is validated before use.
  static std::unique_ptr<Segment> Attach(const std::string& name, std::optional<uint64_t> size);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  const std::string& name() const { return name_; }
  uint64_t size() const { return size_; }
  bool owner() const { return owner_; }
  bool is_open() const { return base_ != nullptr; }

  // The mapping; throws bad_request after close(), bad_header if the object shrank under it (LIFE-14).
  uint8_t* data() const;
  Allocator allocator() const { return Allocator(data(), size_); }

  void Close();   // unmaps, never unlinks
  void Unlink();  // LIFE-10: the creator only
  bool unlinked() const { return unlinked_; }

 private:
  Segment(std::string name, uint8_t* base, uint64_t size, bool owner, int fd)
      : name_(std::move(name)), base_(base), size_(size), owner_(owner), fd_(fd) {}
  std::string name_;
  uint8_t* base_;
  uint64_t size_;
  bool owner_;
  int fd_;  // kept open for data()'s fstat (LIFE-14); closed by Close()
  bool unlinked_ = false;
};

}  // namespace vgis
