// Walks a scatter-gather list in byte ranges, so that a request can be split per cluster.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace vessel::block {

class IovCursor {
 public:
  explicit IovCursor(std::span<const iovec> iov) : iov_(iov) {}

  // The next `len` bytes as an iovec list (appended to `out`, which is cleared first).
  void take(uint64_t len, std::vector<iovec>& out) {
    out.clear();
    while (len > 0 && index_ < iov_.size()) {
      size_t avail = iov_[index_].iov_len - skip_;
      size_t n = static_cast<size_t>(len < avail ? len : avail);
      if (n > 0) out.push_back({static_cast<char*>(iov_[index_].iov_base) + skip_, n});
      skip_ += n;
      len -= n;
      if (skip_ == iov_[index_].iov_len) {
        ++index_;
        skip_ = 0;
      }
    }
  }

 private:
  std::span<const iovec> iov_;
  size_t index_ = 0;
  size_t skip_ = 0;
};

inline void zero_iov(std::span<const iovec> iov) {
  for (const auto& v : iov) memset(v.iov_base, 0, v.iov_len);
}

// Copies `src` into the iovec list.
inline void copy_to_iov(std::span<const iovec> iov, const uint8_t* src) {
  for (const auto& v : iov) {
    memcpy(v.iov_base, src, v.iov_len);
    src += v.iov_len;
  }
}

}  // namespace vessel::block
