// A size-capped, rotating log file, after Docker's json-file driver (max-size, max-file): the
// current file is PATH; when a write would take it past max_size it is renamed PATH.1 (PATH.1 to
// PATH.2, ...; the oldest, PATH.<max_files-1>, is deleted) and a new PATH is started. So at most
// max_size x max_files bytes are ever on disk. With max_files 1 the full file is deleted and
// started anew. Every rotation gives PATH a new inode: a reader that holds the old one notices.
// Used by vessel-shim for a container's output and for a VM's console (docs/daemon/console.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace vessel {

struct LogLimits {
  uint64_t max_size = 10ull << 20;  // bytes per file (Docker's default is unlimited; ours is 10 MiB)
  unsigned max_files = 3;           // files kept, the current one included
};
inline constexpr unsigned kMaxLogFiles = 100;
inline constexpr uint64_t kMinLogSize = 4096;

// "max-size=10m" / "max-file=3" (Docker's --log-opt), applied to `limits`.
Result<void> apply_log_opt(std::string_view opt, LogLimits& limits);
Result<void> check_log_limits(const LogLimits& limits);

// PATH.<n-1> ... PATH.1, PATH: the files that exist, oldest first.
std::vector<std::string> log_files(const std::string& path, unsigned max_files = kMaxLogFiles);

class RotatingLog {
 public:
  // Appends to PATH as it is (a restart carries on); a PATH already full is rotated first, and
  // rotated files beyond max_files (a lower limit than before) are deleted.
  static Result<RotatingLog> open(const std::string& path, LogLimits limits);

  // Writes everything, rotating as needed. Lines are kept whole when they fit in one file: a
  // chunk is cut at the last newline that fits, and a line that does not fit in what is left
  // starts the next file; only a line longer than max_size (or written in pieces) is split. When the disk refuses bytes (ENOSPC, EIO) they are dropped and counted, and
  // the error is returned: the writer never blocks its producer on a full disk.
  Result<void> write(std::string_view bytes);
  uint64_t current_size() const { return size_; }
  uint64_t dropped() const { return dropped_; }
  const std::string& path() const { return path_; }

 private:
  RotatingLog(std::string path, LogLimits limits) : path_(std::move(path)), limits_(limits) {}
  Result<void> open_current();
  Result<void> rotate();

  std::string path_;
  LogLimits limits_;
  Fd fd_;
  uint64_t size_ = 0;
  uint64_t dropped_ = 0;
  bool line_start_ = true;  // the last byte written ended a line (or nothing was written yet)
};

}  // namespace vessel
