// First-fit allocator whose whole state is the header's entry table (ALLOC-*).
//
// The table is shared with other processes that may be buggy, so nothing read
// from it is trusted: placement treats every listed entry as occupied wherever
// it claims to be, and never hands out a range past the segment end (ALLOC-8).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "header.h"

namespace vgis {

// Offset of the first gap of `size` bytes from kHeaderSize, or nullopt (ALLOC-1, ALLOC-8).
std::optional<uint64_t> FirstFit(const std::vector<Entry>& entries, uint64_t size,
                                 uint64_t total_size);

class Allocator {
 public:
  Allocator(uint8_t* header, uint64_t total_size) : header_(header), total_size_(total_size) {}

  uint32_t num_allocs() const { return NumAllocs(header_); }
  std::vector<Entry> entries() const { return ReadEntries(header_, num_allocs()); }

  std::optional<uint64_t> Allocate(uint64_t size);  // ALLOC-1..4
  void Free(uint64_t offset);                       // ALLOC-5
  void Shrink(uint64_t offset, uint64_t length);    // ALLOC-6
  void Reset();                                     // ALLOC-7

 private:
  std::vector<Entry> EntriesForUpdate(const char* clause) const;
  uint8_t* header_;
  uint64_t total_size_;
};

}  // namespace vgis
