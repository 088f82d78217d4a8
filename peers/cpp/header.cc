#include "header.h"

#include <cstring>

#include "errors.h"

namespace vgis {

// Explicit little-endian (HDR-3..7), whatever the host's byte order.
uint32_t LoadU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

uint64_t LoadU64(const uint8_t* p) {
  return static_cast<uint64_t>(LoadU32(p)) | static_cast<uint64_t>(LoadU32(p + 4)) << 32;
}

void StoreU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void StoreU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t NumAllocs(const uint8_t* header) { return LoadU32(header + kNumAllocsAt); }

std::vector<Entry> ReadEntries(const uint8_t* header, uint32_t count) {
  if (count > kMaxAllocs) count = kMaxAllocs;
  std::vector<Entry> out;
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* slot = header + kFixedSize + kEntrySize * i;
    out.emplace_back(LoadU64(slot), LoadU64(slot + 8));
  }
  return out;
}

void WriteEntries(uint8_t* header, const std::vector<Entry>& entries, size_t start) {
  if (entries.size() > kMaxAllocs) {
    throw BadHeader("ALLOC-8", "refusing to write " + std::to_string(entries.size()) +
                                   " entries past the header");
  }
  for (size_t i = start; i < entries.size(); ++i) {
    uint8_t* slot = header + kFixedSize + kEntrySize * i;
    StoreU64(slot, entries[i].first);
    StoreU64(slot + 8, entries[i].second);
  }
  StoreU32(header + kNumAllocsAt, static_cast<uint32_t>(entries.size()));
}

void InitializeHeader(uint8_t* header, uint64_t total_size) {
  std::memcpy(header, kMagic, 4);
  StoreU32(header + 4, kVersion);
  StoreU64(header + kDataSizeAt, total_size - kHeaderSize);
  StoreU32(header + kNumAllocsAt, 0);
  StoreU32(header + kPaddingAt, 0);
}

static std::string Printable(const uint8_t* p, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\') {
      out.push_back(static_cast<char>(p[i]));
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[p[i] >> 4]);
      out.push_back(hex[p[i] & 15]);
    }
  }
  return out;
}

void ValidateHeader(const uint8_t* header, uint64_t object_size) {
  if (std::memcmp(header, kMagic, 4) != 0) {
    throw BadHeader("LIFE-4", "bad magic '" + Printable(header, 4) + "', expected 'VGIS'");
  }
  uint32_t version = LoadU32(header + 4);
  if (version != kVersion) {
    throw BadHeader("LIFE-5", "unsupported version " + std::to_string(version) + ", expected 1");
  }
  uint64_t data_size = LoadU64(header + kDataSizeAt);
  if (data_size != object_size - kHeaderSize) {
    throw BadHeader("LIFE-6", "data_size " + std::to_string(data_size) +
                                  " does not match the object: " + std::to_string(object_size) +
                                  " - 65536 = " + std::to_string(object_size - kHeaderSize));
  }
  uint32_t count = NumAllocs(header);
  if (count > kMaxAllocs) {
    throw BadHeader("LIFE-7", "num_allocs " + std::to_string(count) + " exceeds MAX_ALLOCS 4094");
  }
}

}  // namespace vgis
