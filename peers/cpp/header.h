// The 65,536-byte segment header: layout, little-endian field access and the
// checks an attacher makes before trusting it (HDR-*, LIFE-3..7).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vgis {

constexpr uint64_t kHeaderSize = 65536;                            // HDR-1
constexpr char kMagic[4] = {'V', 'G', 'I', 'S'};                   // HDR-2
constexpr uint32_t kVersion = 1;                                   // HDR-3
constexpr size_t kDataSizeAt = 8;                                  // HDR-4
constexpr size_t kNumAllocsAt = 16;                                // HDR-5
constexpr size_t kPaddingAt = 20;                                  // HDR-6
constexpr size_t kFixedSize = 24;                                  // HDR-7
constexpr size_t kEntrySize = 16;                                  // HDR-7
constexpr uint32_t kMaxAllocs = (kHeaderSize - kFixedSize) / kEntrySize;  // 4,094
static_assert(kMaxAllocs == 4094, "HDR-7");

using Entry = std::pair<uint64_t, uint64_t>;  // (absolute offset, length), HDR-8

uint32_t LoadU32(const uint8_t* p);
uint64_t LoadU64(const uint8_t* p);
void StoreU32(uint8_t* p, uint32_t v);
void StoreU64(uint8_t* p, uint64_t v);

// Raw num_allocs (may exceed kMaxAllocs in a hostile header).
uint32_t NumAllocs(const uint8_t* header);
// The first min(count, kMaxAllocs) entries, in stored order (HDR-9).
std::vector<Entry> ReadEntries(const uint8_t* header, uint32_t count);
// Writes entries[start:] at their slots, then num_allocs = entries.size().
void WriteEntries(uint8_t* header, const std::vector<Entry>& entries, size_t start);

// LIFE-3: magic, version, data_size, num_allocs = 0, padding = 0.
void InitializeHeader(uint8_t* header, uint64_t total_size);
// LIFE-4..7; throws bad_header. `object_size` is the mapped object's size.
void ValidateHeader(const uint8_t* header, uint64_t object_size);

}  // namespace vgis
