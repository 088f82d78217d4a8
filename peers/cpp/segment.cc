#include "segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "errors.h"

namespace vgis {

constexpr mode_t kMode = 0600;  // LIFE-11

std::string CanonicalName(const std::string& name) {
  size_t i = 0;
  while (i < name.size() && name[i] == '/') ++i;
  return "/" + name.substr(i);
}

static void CheckName(const std::string& name) {
  std::string bare = CanonicalName(name).substr(1);
  if (bare.empty() || bare.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos || bare.size() > 255) {
    throw BadName("LIFE-9", "invalid segment name '" + name + "'");
  }
}

static std::string Errno(int err) { return std::strerror(err); }

std::unique_ptr<Segment> Segment::Create(const std::string& requested, uint64_t size) {
  if (size <= kHeaderSize) {
    throw BadRequest("LIFE-1", "segment size must exceed 65536, got " + std::to_string(size));
  }
  if (size > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) {
    throw BadRequest("LIFE-1", "segment size " + std::to_string(size) + " is too large");
  }
  CheckName(requested);
  std::string name = CanonicalName(requested);
  int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, kMode);
  if (fd < 0) throw BadName("LIFE-1", "cannot create '" + name + "': " + Errno(errno));
  struct stat st;
  void* base = MAP_FAILED;
  int err = 0;
  // fchmod: the umask must not loosen or tighten 0600 (LIFE-11).
  if (fchmod(fd, kMode) != 0 || ftruncate(fd, static_cast<off_t>(size)) != 0 ||
      fstat(fd, &st) != 0) {
    err = errno;
  } else {
    // LIFE-2: data_size comes from the size actually there, after any rounding.
    base = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) err = errno;
  }
  if (base == MAP_FAILED) {
    close(fd);
    shm_unlink(name.c_str());
    throw BadName("LIFE-1", "cannot size or map '" + name + "': " + Errno(err));
  }
  uint64_t actual = static_cast<uint64_t>(st.st_size);
  InitializeHeader(static_cast<uint8_t*>(base), actual);  // LIFE-3
  return std::unique_ptr<Segment>(new Segment(name, static_cast<uint8_t*>(base), actual, true, fd));
}

std::unique_ptr<Segment> Segment::Attach(const std::string& requested, std::optional<uint64_t> size) {
  CheckName(requested);
  std::string name = requested;
  int fd = shm_open(name.c_str(), O_RDWR, kMode);  // as given first ...
  int err = errno;
  if (fd < 0 && requested[0] != '/') {  // ... then once with "/" prepended (LIFE-9)
    std::string slashed = "/" + requested;
    fd = shm_open(slashed.c_str(), O_RDWR, kMode);
    if (fd >= 0) name = slashed;
    else err = errno;
  }
  if (fd < 0) {
    throw BadName("LIFE-9", "cannot open segment '" + requested + "': " +
                                (err == ENOENT ? std::string("does not exist") : Errno(err)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    err = errno;
    close(fd);
    throw BadName("LIFE-9", "cannot stat '" + name + "': " + Errno(err));
  }
  uint64_t actual = static_cast<uint64_t>(st.st_size);
  // LIFE-8: size checks come before any byte of the object is touched.
  if (actual <= kHeaderSize) {
    close(fd);
    throw BadHeader("LIFE-8", "object is " + std::to_string(actual) +
                                  " bytes, smaller than a header plus data");
  }
  if (size && *size > actual) {
    close(fd);
    throw BadHeader("LIFE-8", "object is " + std::to_string(actual) +
                                  " bytes, smaller than the advertised " + std::to_string(*size));
  }
  void* base = mmap(nullptr, static_cast<size_t>(actual), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  err = errno;
  if (base == MAP_FAILED) {
    close(fd);
    throw BadName("LIFE-9", "cannot map '" + name + "': " + Errno(err));
  }
  try {
    ValidateHeader(static_cast<const uint8_t*>(base), actual);  // LIFE-4..7
  } catch (...) {
    munmap(base, static_cast<size_t>(actual));  // LIFE-12: nothing stays mapped
    close(fd);
    throw;
  }
  return std::unique_ptr<Segment>(new Segment(name, static_cast<uint8_t*>(base), actual, false, fd));
}

Segment::~Segment() { Close(); }

uint8_t* Segment::data() const {
  if (base_ == nullptr) throw BadRequest("-", "segment '" + name_ + "' is closed");
  // LIFE-14: a byte of the mapping past the object's current end is SIGBUS when touched (ERR-2).
  struct stat st;
  if (fstat(fd_, &st) != 0) throw BadHeader("LIFE-14", "cannot stat '" + name_ + "': " + Errno(errno));
  if (static_cast<uint64_t>(st.st_size) < size_) {
    throw BadHeader("LIFE-14", "the object shrank to " + std::to_string(st.st_size) + " bytes under its " +
                                   std::to_string(size_) + "-byte mapping");
  }
  return base_;
}

void Segment::Close() {
  if (base_ != nullptr) {
    munmap(base_, static_cast<size_t>(size_));
    base_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

void Segment::Unlink() {
  if (!owner_) throw BadRequest("LIFE-10", "an attacher must not unlink '" + name_ + "'");
  if (shm_unlink(CanonicalName(name_).c_str()) != 0 && errno != ENOENT) {
    throw BadName("LIFE-10", "cannot unlink '" + name_ + "': " + Errno(errno));
  }
  unlinked_ = true;
}

}  // namespace vgis
