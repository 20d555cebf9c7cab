#include "block/raw.h"

#include "block/image_lock.h"
#include "block/io_pool.h"
#include "block/iov_cursor.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <vector>

namespace vessel::block {

Result<void> check_range(uint64_t offset, uint64_t len, uint64_t size) {
  if (offset > size || len > size - offset)
    return fail(EINVAL, "request [{}, +{}) is outside the disk of {} bytes", offset, len, size);
  return {};
}

uint64_t iov_length(std::span<const iovec> iov) {
  uint64_t n = 0;
  for (const auto& v : iov) n += v.iov_len;
  return n;
}

namespace {
// Advances an iovec vector past `done` bytes in place.
void advance(std::vector<iovec>& v, size_t& first, size_t done) {
  while (done > 0 && first < v.size()) {
    if (done >= v[first].iov_len) {
      done -= v[first].iov_len;
      ++first;
    } else {
      v[first].iov_base = static_cast<char*>(v[first].iov_base) + done;
      v[first].iov_len -= done;
      done = 0;
    }
  }
  while (first < v.size() && v[first].iov_len == 0) ++first;
}
}  // namespace

Result<void> preadv_serial(int fd, std::span<const iovec> iov, uint64_t offset) {
  if (iov.size() == 1) {
    auto* p = static_cast<char*>(iov[0].iov_base);
    size_t left = iov[0].iov_len;
    while (left > 0) {
      ssize_t n = ::pread(fd, p, left, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail_errno("read {} bytes at offset {}", left, offset);
      }
      if (n == 0) {  // past EOF: a sparse tail reads as zeros
        memset(p, 0, left);
        return {};
      }
      p += n;
      left -= static_cast<size_t>(n);
      offset += static_cast<uint64_t>(n);
    }
    return {};
  }
  std::vector<iovec> v(iov.begin(), iov.end());
  size_t first = 0;
  advance(v, first, 0);
  while (first < v.size()) {
    int cnt = static_cast<int>(std::min<size_t>(v.size() - first, IOV_MAX));
    ssize_t n = ::preadv(fd, &v[first], cnt, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read at offset {}", offset);
    }
    if (n == 0) {
      for (size_t i = first; i < v.size(); ++i) memset(v[i].iov_base, 0, v[i].iov_len);
      return {};
    }
    offset += static_cast<uint64_t>(n);
    advance(v, first, static_cast<size_t>(n));
  }
  return {};
}

Result<void> pwritev_serial(int fd, std::span<const iovec> iov, uint64_t offset) {
  if (iov.size() == 1) return pwrite_all(fd, iov[0].iov_base, iov[0].iov_len, offset);
  std::vector<iovec> v(iov.begin(), iov.end());
  size_t first = 0;
  advance(v, first, 0);
  while (first < v.size()) {
    int cnt = static_cast<int>(std::min<size_t>(v.size() - first, IOV_MAX));
    ssize_t n = ::pwritev(fd, &v[first], cnt, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("write at offset {}", offset);
    }
    offset += static_cast<uint64_t>(n);
    advance(v, first, static_cast<size_t>(n));
  }
  return {};
}

namespace {

constexpr uint64_t kSplitThreshold = 256u << 10;

// Splits a large transfer into io_parallelism() pieces run on the I/O pool.
// Transfers in flight in this process: when several requests already run in parallel (queue
// depth > 1), splitting them further only adds hand-offs.
std::atomic<int> g_in_flight{0};

Result<void> split_io(int fd, std::span<const iovec> iov, uint64_t offset, bool write) {
  uint64_t total = iov_length(iov);
  int n = io_parallelism();
  int others = g_in_flight.fetch_add(1);
  struct Leave {
    ~Leave() { g_in_flight.fetch_sub(1); }
  } leave;
  if (total < kSplitThreshold || n <= 1 || others > 0)
    return write ? pwritev_serial(fd, iov, offset) : preadv_serial(fd, iov, offset);
  uint64_t piece = ((total / static_cast<uint64_t>(n)) + 4095) & ~4095ull;
  std::vector<std::vector<iovec>> parts;
  std::vector<uint64_t> starts;
  IovCursor cur(iov);
  for (uint64_t done = 0; done < total; done += piece) {
    parts.emplace_back();
    cur.take(std::min(piece, total - done), parts.back());
    starts.push_back(offset + done);
  }
  std::vector<Result<void>> results(parts.size());
  run_parallel(static_cast<int>(parts.size()), [&](int i) {
    results[i] = write ? pwritev_serial(fd, parts[i], starts[i]) : preadv_serial(fd, parts[i], starts[i]);
  });
  for (auto& r : results) TRY(std::move(r));
  return {};
}

}  // namespace

Result<void> preadv_full(int fd, std::span<const iovec> iov, uint64_t offset) {
  return split_io(fd, iov, offset, false);
}

Result<void> pwritev_full(int fd, std::span<const iovec> iov, uint64_t offset) {
  return split_io(fd, iov, offset, true);
}

Result<std::unique_ptr<RawBackend>> RawBackend::open(const std::string& path,
                                                     const OpenOptions& options) {
  Fd fd = TRY_CTX(Fd::open(path, options.read_only ? O_RDONLY : O_RDWR), "open raw image {}", path);
  TRY(lock_for_open(fd.get(), path, options));
  auto raw = TRY(from_fd(std::move(fd), options.read_only));
  raw->unsafe_cache_ = options.unsafe_cache;
  raw->path_ = path;
  raw->options_ = options;
  return raw;
}

Result<void> RawBackend::hand_over_lock(bool release) {
  if (read_only_ || path_.empty()) return {};
  return hand_over_image_lock(fd_.get(), path_, options_, release);
}

Result<std::unique_ptr<RawBackend>> RawBackend::from_fd(Fd fd, bool read_only) {
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return fail_errno("stat raw image");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode)) {
    off_t end = ::lseek(fd.get(), 0, SEEK_END);
    if (end < 0) return fail_errno("size of block device");
    size = static_cast<uint64_t>(end);
  }
  return std::unique_ptr<RawBackend>(new RawBackend(std::move(fd), size, read_only));
}

Result<void> RawBackend::readv(uint64_t offset, std::span<const iovec> iov) {
  TRY(check_range(offset, iov_length(iov), size_));
  return preadv_full(fd_.get(), iov, offset);
}

Result<void> RawBackend::writev(uint64_t offset, std::span<const iovec> iov) {
  if (read_only_) return fail(EROFS, "raw image is read-only");
  TRY(check_range(offset, iov_length(iov), size_));
  return pwritev_full(fd_.get(), iov, offset);
}

Result<void> RawBackend::flush() {
  if (read_only_ || unsafe_cache_) return {};
  if (::fdatasync(fd_.get()) < 0) return fail_errno("fdatasync raw image");
  return {};
}

Result<void> RawBackend::discard(uint64_t offset, uint64_t len, bool zero) {
  if (read_only_) return fail(EROFS, "raw image is read-only");
  TRY(check_range(offset, len, size_));
  if (len == 0) return {};
  // A punched hole reads back as zeros, so `zero` needs nothing more when the punch works.
  if (::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(len)) == 0)
    return {};
  if (!zero) return {};  // discard is advisory
  if (::fallocate(fd_.get(), FALLOC_FL_ZERO_RANGE, static_cast<off_t>(offset),
                  static_cast<off_t>(len)) == 0)
    return {};
  static const std::vector<char> zeros(1 << 20, 0);
  while (len > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, zeros.size()));
    TRY(pwrite_all(fd_.get(), zeros.data(), n, offset));
    offset += n;
    len -= n;
  }
  return {};
}

Result<void> RawBackend::truncate(uint64_t new_size) {
  if (read_only_) return fail(EROFS, "raw image is read-only");
  if (::ftruncate(fd_.get(), static_cast<off_t>(new_size)) < 0)
    return fail_errno("resize raw image to {} bytes", new_size);
  size_ = new_size;
  return {};
}

}  // namespace vessel::block
