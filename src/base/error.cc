#include "base/error.h"

#include <cstring>

namespace vessel {

std::string Error::to_string() const {
  std::string out;
  for (auto it = context_.rbegin(); it != context_.rend(); ++it) {
    out += *it;
    out += ": ";
  }
  out += message_;
  if (shows_errno_ && errnum_ != 0) {
    out += ": ";
    out += std::strerror(errnum_);
  }
  return out;
}

}  // namespace vessel
