#include "base/rotating_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/size.h"

namespace vessel {

namespace {

std::string numbered(const std::string& path, unsigned n) { return n == 0 ? path : path + "." + std::to_string(n); }

}  // namespace

Result<void> check_log_limits(const LogLimits& l) {
  if (l.max_size < kMinLogSize) return fail(EINVAL, "log max-size: {} bytes is below {}", l.max_size, kMinLogSize);
  if (l.max_size > (1ull << 40)) return fail(EINVAL, "log max-size: {} bytes is over 1 TiB", l.max_size);
  if (l.max_files < 1 || l.max_files > kMaxLogFiles)
    return fail(EINVAL, "log max-file: {} is outside 1..{}", l.max_files, kMaxLogFiles);
  return {};
}

Result<void> apply_log_opt(std::string_view opt, LogLimits& limits) {
  auto eq = opt.find('=');
  if (eq == std::string_view::npos)
    return Unexpected(Error(EINVAL, fmt::format("--log-opt {}: expected KEY=VALUE", opt)).with_hint("max-size=10m, max-file=3"));
  auto key = opt.substr(0, eq), value = opt.substr(eq + 1);
  if (key == "max-size") {
    auto bytes = scan_size(value, SizeSyntax{.units = "bkmgt", .long_units = true});
    if (!bytes) return fail(EINVAL, "--log-opt max-size={}: expected a size such as 10m or 512k", value);
    limits.max_size = *bytes;
  } else if (key == "max-file") {
    auto n = scan_size(value, SizeSyntax{.units = ""});
    if (!n || *n < 1 || *n > kMaxLogFiles) return fail(EINVAL, "--log-opt max-file={}: expected 1..{}", value, kMaxLogFiles);
    limits.max_files = static_cast<unsigned>(*n);
  } else {
    return Unexpected(Error(EINVAL, fmt::format("--log-opt {}: unknown option", key)).with_hint("max-size, max-file"));
  }
  return check_log_limits(limits);
}

std::vector<std::string> log_files(const std::string& path, unsigned max_files) {
  std::vector<std::string> out;
  for (unsigned n = max_files; n-- > 0;) {
    std::string p = numbered(path, n);
    if (::access(p.c_str(), F_OK) == 0) out.push_back(p);
  }
  return out;
}

Result<RotatingLog> RotatingLog::open(const std::string& path, LogLimits limits) {
  TRY(check_log_limits(limits));
  RotatingLog log(path, limits);
  for (unsigned n = limits.max_files; n < kMaxLogFiles; ++n) ::unlink(numbered(path, n).c_str());
  TRY(log.open_current());
  if (log.size_ >= limits.max_size) TRY(log.rotate());
  return log;
}

Result<void> RotatingLog::open_current() {
  fd_ = TRY(Fd::open(path_, O_WRONLY | O_APPEND | O_CREAT, 0600));
  struct stat st;
  if (::fstat(fd_.get(), &st) < 0) return fail_errno("stat {}", path_);
  size_ = static_cast<uint64_t>(st.st_size);
  return {};
}

Result<void> RotatingLog::rotate() {
  fd_.reset();
  // The oldest goes; each other moves up one; the current becomes .1 (or goes, with one file).
  if (::unlink(numbered(path_, limits_.max_files - 1).c_str()) < 0 && errno != ENOENT)
    return fail_errno("remove {}", numbered(path_, limits_.max_files - 1));
  for (unsigned n = limits_.max_files - 1; n-- > 0;)
    if (::rename(numbered(path_, n).c_str(), numbered(path_, n + 1).c_str()) < 0 && errno != ENOENT)
      return fail_errno("rename {}", numbered(path_, n));
  return open_current();
}

Result<void> RotatingLog::write(std::string_view bytes) {
  while (!bytes.empty()) {
    if (!fd_ || size_ >= limits_.max_size) {
      if (auto r = rotate(); !r) {
        dropped_ += bytes.size();
        return r;
      }
    }
    uint64_t room = limits_.max_size - size_;
    size_t n = bytes.size() <= room ? bytes.size() : static_cast<size_t>(room);
    if (n < bytes.size()) {  // this file fills up: end it at a line's end when one fits
      auto nl = bytes.substr(0, n).rfind('\n');
      if (nl != std::string_view::npos) {
        n = nl + 1;
      } else if (line_start_ && size_ > 0) {  // start this line in the next file
        size_ = limits_.max_size;
        continue;
      }
    }
    ssize_t w = ::write(fd_.get(), bytes.data(), n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      dropped_ += bytes.size();
      return fail_system(e, "write {}", path_);
    }
    size_ += static_cast<uint64_t>(w);
    line_start_ = bytes[static_cast<size_t>(w) - 1] == '\n';
    bytes.remove_prefix(static_cast<size_t>(w));
  }
  return {};
}

}  // namespace vessel
