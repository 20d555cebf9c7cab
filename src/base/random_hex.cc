#include "base/random_hex.h"

#include <sys/random.h>

#include <vector>

#include <fmt/format.h>

namespace vessel {

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  size_t got = 0;
  while (got < raw.size()) {
    ssize_t n = ::getrandom(raw.data() + got, raw.size() - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  std::string hex;
  hex.reserve(2 * bytes);
  for (unsigned char b : raw) hex += fmt::format("{:02x}", b);
  return hex;
}

}  // namespace vessel
