#include "bench.h"

#include <arrow/io/interfaces.h>
#include <arrow/ipc/api.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "errors.h"
#include "framing.h"
#include "header.h"
#include "pointer.h"

namespace vgis {

namespace {

using Clock = std::chrono::steady_clock;

// How long a FIFO end waits for the other side before the bench fails.
constexpr int kPipeTimeoutMs = 60000;

volatile uint64_t g_sink;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t MinorFaults() {
  struct rusage usage;
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// One timed repetition and the minor page faults taken during it; the fault
// counter is read outside the timed interval.
class Stopwatch {
 public:
  Stopwatch() : faults_(MinorFaults()), start_(Clock::now()) {}
  void Stop(BenchResult& out) const {
    double elapsed = Since(start_);
    out.minor_faults.push_back(MinorFaults() - faults_);
    out.seconds.push_back(elapsed);
  }

 private:
  int64_t faults_;
  Clock::time_point start_;
};

uint64_t SumBytes(const uint8_t* p, int64_t n) {
  uint64_t sum = 0;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    sum += *p++;
    --n;
  }
  // Aligned u64 loads (memcpy keeps it free of aliasing questions; it compiles to plain loads).
  auto word = [p](int64_t i) {
    uint64_t w;
    std::memcpy(&w, p + 8 * i, 8);
    return w;
  };
  uint64_t lanes[4] = {0, 0, 0, 0};
  int64_t words = n / 8;
  int64_t i = 0;
  for (; i + 4 <= words; i += 4) {
    lanes[0] += word(i);
    lanes[1] += word(i + 1);
    lanes[2] += word(i + 2);
    lanes[3] += word(i + 3);
  }
  for (; i < words; ++i) sum += word(i);
  sum += lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (int64_t j = words * 8; j < n; ++j) sum += p[j];
  return sum;
}

uint64_t TouchData(const arrow::ArrayData& data) {
  uint64_t sum = 0;
  for (const auto& buffer : data.buffers) {  // buffers[0] is the validity bitmap (may be null)
    if (buffer && buffer->size() > 0) sum += SumBytes(buffer->data(), buffer->size());
  }
  for (const auto& child : data.child_data) sum += TouchData(*child);
  if (data.dictionary) sum += TouchData(*data.dictionary);
  return sum;
}

[[noreturn]] void Os(const std::string& what, const std::string& path) {
  throw BadRequest("-", what + " '" + path + "': " + std::strerror(errno));
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

int OpenFifo(const std::string& path, int mode) {
  return ::open(path.c_str(), mode | O_NONBLOCK | O_CLOEXEC);
}

void CheckFifo(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) Os("cannot stat", path);
  if (!S_ISFIFO(st.st_mode)) throw BadRequest("-", "'" + path + "' is not a FIFO");
}

// Waits until fd has bytes (or its writers are gone); false on timeout.
arrow::Status WaitReadable(int fd) {
  struct pollfd pfd = {fd, POLLIN, 0};
  for (;;) {
    int n = ::poll(&pfd, 1, kPipeTimeoutMs);
    if (n > 0) return arrow::Status::OK();
    if (n == 0) return arrow::Status::IOError("no bytes from the writer for ", kPipeTimeoutMs / 1000, " s");
    if (errno != EINTR) return arrow::Status::IOError("poll: ", std::strerror(errno));
  }
}

// One end of a FIFO as an Arrow stream: its descriptor, the bytes it has moved, and the
// FileInterface bookkeeping both directions share (Close does not close the descriptor).
template <typename Stream>
class FifoEnd : public Stream {
 public:
  explicit FifoEnd(int fd) : fd_(fd) {}
  arrow::Status Close() override {
    closed_ = true;
    return arrow::Status::OK();
  }
  bool closed() const override { return closed_; }
  arrow::Result<int64_t> Tell() const override { return count_; }
  int64_t count() const { return count_; }

 protected:
  int fd_;
  int64_t count_ = 0;
  bool closed_ = false;
};

// An unbuffered, counting input stream over a non-blocking FIFO read end:
// reads exactly what the IPC reader asks for, waiting (poll) when empty.
class FifoInputStream : public FifoEnd<arrow::io::InputStream> {
 public:
  using FifoEnd::FifoEnd;
  arrow::Result<int64_t> Read(int64_t nbytes, void* out) override {
    auto* dst = static_cast<uint8_t*>(out);
    int64_t got = 0;
    while (got < nbytes) {
      ssize_t n = ::read(fd_, dst + got, static_cast<size_t>(nbytes - got));
      if (n > 0) {
        got += n;
      } else if (n == 0) {
        break;  // no writer at all
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ARROW_RETURN_NOT_OK(WaitReadable(fd_));
      } else if (errno != EINTR) {
        return arrow::Status::IOError("read: ", std::strerror(errno));
      }
    }
    count_ += got;
    return got;
  }
  arrow::Result<std::shared_ptr<arrow::Buffer>> Read(int64_t nbytes) override {
    ARROW_ASSIGN_OR_RAISE(auto buffer, arrow::AllocateResizableBuffer(nbytes));
    ARROW_ASSIGN_OR_RAISE(int64_t got, Read(nbytes, buffer->mutable_data()));
    if (got < nbytes) ARROW_RETURN_NOT_OK(buffer->Resize(got));
    return std::shared_ptr<arrow::Buffer>(std::move(buffer));
  }
};

// A counting output stream over a blocking FIFO write end.
class FifoOutputStream : public FifoEnd<arrow::io::OutputStream> {
 public:
  using FifoEnd::FifoEnd;
  arrow::Status Write(const void* data, int64_t nbytes) override {
    const auto* src = static_cast<const uint8_t*>(data);
    int64_t done = 0;
    while (done < nbytes) {
      ssize_t n = ::write(fd_, src + done, static_cast<size_t>(nbytes - done));
      if (n >= 0) {
        done += n;
      } else if (errno != EINTR) {
        return arrow::Status::IOError("write: ", std::strerror(errno));
      }
    }
    count_ += nbytes;
    return arrow::Status::OK();
  }
};

void Check(const arrow::Status& st, const char* kind, const std::string& what) {
  if (!st.ok()) throw VgisError(kind, "-", what + ": " + st.ToString());
}

}  // namespace

uint64_t Touch(const arrow::RecordBatch& batch) {
  uint64_t sum = 0;
  for (int i = 0; i < batch.num_columns(); ++i) sum += TouchData(*batch.column_data(i));
  g_sink = sum;
  return sum;
}

BenchResult BenchWrite(Segment& segment, const arrow::RecordBatch& batch, uint64_t repeat) {
  BenchResult out;
  for (uint64_t i = 0; i < repeat; ++i) {
    Stopwatch clock;
    auto placed = WriteBatch(segment, batch);
    clock.Stop(out);
    if (!placed) {
      throw BadRequest("WRITE-6", "the batch does not fit in the " + std::to_string(segment.size()) +
                                      "-byte segment");
    }
    segment.allocator().Free(placed->first);
    out.bytes = placed->second;
  }
  return out;
}

BenchResult BenchResolve(Segment& segment, const std::shared_ptr<arrow::Schema>& schema,
                         uint64_t offset, uint64_t length, uint64_t repeat) {
  BenchResult out;
  auto pointer = EmptyBatch(schema);
  Metadata md = PointerKeys(offset, length);
  for (uint64_t i = 0; i < repeat; ++i) {
    Stopwatch clock;
    Resolved res = Resolve(pointer, md, segment);  // never frees
    Touch(*res.batch);
    clock.Stop(out);
  }
  out.bytes = length;
  return out;
}

BenchResult BenchMemcpy(Segment& segment, uint64_t length, uint64_t repeat) {
  if (length > segment.size() || kHeaderSize > segment.size() - length) {
    throw OutOfBounds("-", std::to_string(length) + " bytes from 65536 do not fit in the " +
                               std::to_string(segment.size()) + "-byte segment");
  }
  std::vector<uint8_t> src(length);  // private, filled (and faulted in) before timing
  for (uint64_t i = 0; i < length; ++i) src[i] = static_cast<uint8_t>(i * 31 + 7);
  uint8_t* dst = segment.data() + kHeaderSize;
  BenchResult out;
  for (uint64_t i = 0; i < repeat; ++i) {
    Stopwatch clock;
    std::memcpy(dst, src.data(), length);
    asm volatile("" : : "r"(dst) : "memory");
    clock.Stop(out);
  }
  out.bytes = length;
  return out;
}

BenchResult BenchPipeWrite(const std::string& path, const arrow::RecordBatch& batch, uint64_t repeat) {
  BenchResult out;
  for (uint64_t i = 0; i < repeat; ++i) {
    auto deadline = Clock::now() + std::chrono::milliseconds(kPipeTimeoutMs);
    Fd fd;
    for (;;) {  // ENXIO until a reader holds the FIFO
      int raw = OpenFifo(path, O_WRONLY);
      if (raw >= 0) {
        fd.Reset(raw);
        break;
      }
      if (errno != ENXIO || Clock::now() > deadline) Os("cannot open for writing", path);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    CheckFifo(fd.get(), path);
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) < 0) Os("cannot set blocking mode on", path);
    auto start = Clock::now();
    auto sink = std::make_shared<FifoOutputStream>(fd.get());
    {
      auto writer = arrow::ipc::MakeStreamWriter(sink, batch.schema());
      Check(writer.status(), "internal", "writing to '" + path + "'");
      Check((*writer)->WriteRecordBatch(batch), "internal", "writing to '" + path + "'");
      Check((*writer)->Close(), "internal", "writing to '" + path + "'");
    }
    fd.Reset();  // close
    out.seconds.push_back(Since(start));
    out.bytes = static_cast<uint64_t>(sink->count());
  }
  return out;
}

BenchResult BenchPipeRead(const std::string& path, uint64_t repeat) {
  // Keep-alive ends (see bench.h). A non-blocking read open never waits; the
  // write open then cannot fail with ENXIO, as we are a reader.
  Fd keep_read(OpenFifo(path, O_RDONLY));
  if (keep_read.get() < 0) Os("cannot open for reading", path);
  CheckFifo(keep_read.get(), path);
  Fd keep_write(OpenFifo(path, O_WRONLY));
  if (keep_write.get() < 0) Os("cannot open for writing", path);
  BenchResult out;
  for (uint64_t i = 0; i < repeat; ++i) {
    Fd fd(OpenFifo(path, O_RDONLY));
    if (fd.get() < 0) Os("cannot open for reading", path);
    Check(WaitReadable(fd.get()), "bad_request", "waiting for the writer of '" + path + "'");
    auto start = Clock::now();
    auto source = std::make_shared<FifoInputStream>(fd.get());
    std::shared_ptr<arrow::RecordBatch> batch;
    {
      auto options = arrow::ipc::IpcReadOptions::Defaults();
      options.use_threads = false;
      auto reader = arrow::ipc::RecordBatchStreamReader::Open(source, options);
      Check(reader.status(), "ipc_error", "reading '" + path + "'");
      Check((*reader)->ReadNext(&batch), "ipc_error", "reading '" + path + "'");
      if (!batch) throw IpcError("-", "the stream in '" + path + "' holds no record batch");
      std::shared_ptr<arrow::RecordBatch> extra;
      Check((*reader)->ReadNext(&extra), "ipc_error", "reading '" + path + "'");  // the EOS
      if (extra) throw IpcError("-", "the stream in '" + path + "' holds more than one record batch");
    }
    fd.Reset();  // close
    Touch(*batch);
    out.seconds.push_back(Since(start));
    out.bytes = static_cast<uint64_t>(source->count());
  }
  return out;
}

}  // namespace vgis
