// Little helpers to write and read a section's bytes: fixed-size values (integers and the
// kernel's KVM structures, copied as they are: their layout is the kernel's stable ABI) and
// length-prefixed blobs. The reader is bounds-checked: a short or lying section is an error.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "base/error.h"

namespace vessel::vmm::snapshot {

class ByteWriter {
 public:
  template <typename T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void put_bytes(std::span<const uint8_t> data) {
    put<uint64_t>(data.size());
    bytes_.insert(bytes_.end(), data.begin(), data.end());
  }
  void put_string(const std::string& s) {
    put_bytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, std::string_view where) : bytes_(bytes), where_(where) {}

  template <typename T>
  Result<T> get() {
    static_assert(std::is_trivially_copyable_v<T>);
    if (bytes_.size() - pos_ < sizeof(T))
      return fail(EINVAL, "{}: truncated at byte {} (need {} more)", where_, pos_, sizeof(T));
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  // The next `n` bytes.
  Result<std::span<const uint8_t>> get_raw(uint64_t n) {
    if (bytes_.size() - pos_ < n) return fail(EINVAL, "{}: truncated at byte {} (need {} more)", where_, pos_, n);
    auto s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  // A length-prefixed blob of at most `max` bytes.
  Result<std::span<const uint8_t>> get_bytes(uint64_t max) {
    uint64_t n = TRY(get<uint64_t>());
    if (n > max) return fail(EINVAL, "{}: a field of {} bytes (at most {})", where_, n, max);
    return get_raw(n);
  }
  Result<std::string> get_string(uint64_t max) {
    auto s = TRY(get_bytes(max));
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
  }
  // Every byte was read (a longer section of a known version is corrupt).
  Result<void> finish() const {
    if (pos_ != bytes_.size()) return fail(EINVAL, "{}: {} unexpected bytes at the end", where_, bytes_.size() - pos_);
    return {};
  }

 private:
  std::span<const uint8_t> bytes_;
  std::string_view where_;
  size_t pos_ = 0;
};

}  // namespace vessel::vmm::snapshot
