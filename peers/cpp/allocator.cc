#include "allocator.h"

#include <algorithm>
#include <string>

#include "errors.h"

namespace vgis {

using u128 = unsigned __int128;

std::optional<uint64_t> FirstFit(const std::vector<Entry>& entries, uint64_t size,
                                 uint64_t total_size) {
  std::vector<Entry> sorted(entries);
  std::sort(sorted.begin(), sorted.end());
  // 128-bit cursor: a hostile entry's offset + length may pass 2^64.
  u128 cursor = kHeaderSize;
  for (const Entry& e : sorted) {
    if (e.first >= cursor && e.first - cursor >= size) break;
    cursor = std::max<u128>(cursor, static_cast<u128>(e.first) + e.second);
  }
  if (cursor + size > total_size) return std::nullopt;
  return static_cast<uint64_t>(cursor);
}

std::optional<uint64_t> Allocator::Allocate(uint64_t size) {
  if (size == 0) throw BadRequest("ALLOC-4", "allocation size must be positive, got 0");
  uint32_t count = num_allocs();
  if (count >= kMaxAllocs) return std::nullopt;  // ALLOC-3: full table
  std::vector<Entry> list = ReadEntries(header_, count);
  std::optional<uint64_t> offset = FirstFit(list, size, total_size_);
  if (!offset) return std::nullopt;
  if (std::is_sorted(list.begin(), list.end())) {
    size_t index = 0;
    while (index < list.size() && list[index].first <= *offset) ++index;
    list.insert(list.begin() + static_cast<std::ptrdiff_t>(index), Entry{*offset, size});
    WriteEntries(header_, list, index);
  } else {
    // HDR-10: a table another writer left unsorted is rewritten in order.
    list.emplace_back(*offset, size);
    std::sort(list.begin(), list.end());
    WriteEntries(header_, list, 0);
  }
  return offset;
}

std::vector<Entry> Allocator::EntriesForUpdate(const char* clause) const {
  uint32_t count = num_allocs();
  if (count > kMaxAllocs) {
    throw BadHeader(clause, "num_allocs " + std::to_string(count) +
                                " exceeds MAX_ALLOCS 4094; table not modified");
  }
  return ReadEntries(header_, count);
}

static size_t IndexOf(const std::vector<Entry>& list, uint64_t offset, const char* clause) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].first == offset) return i;
  }
  throw NoAllocation(clause, "no allocation starts at offset " + std::to_string(offset));
}

void Allocator::Free(uint64_t offset) {
  std::vector<Entry> list = EntriesForUpdate("ALLOC-5");
  size_t index = IndexOf(list, offset, "ALLOC-5");
  list.erase(list.begin() + static_cast<std::ptrdiff_t>(index));
  WriteEntries(header_, list, index);
}

void Allocator::Shrink(uint64_t offset, uint64_t length) {
  std::vector<Entry> list = EntriesForUpdate("ALLOC-6");
  size_t index = IndexOf(list, offset, "ALLOC-6");
  uint64_t current = list[index].second;
  if (length < 1 || length > current) {
    throw BadRequest("ALLOC-6", "shrink to " + std::to_string(length) +
                                    " bytes: must be within 1.." + std::to_string(current));
  }
  // Only the entry's length field changes; num_allocs is not rewritten.
  StoreU64(header_ + kFixedSize + kEntrySize * index + 8, length);
}

void Allocator::Reset() { StoreU32(header_ + kNumAllocsAt, 0); }

}  // namespace vgis
