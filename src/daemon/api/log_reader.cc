#include "daemon/api/log_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/rotating_log.h"

namespace vessel::daemon {

RotatedLogReader::RotatedLogReader(std::string path) : path_(std::move(path)) { open_newer_than(0, 0, false); }

void RotatedLogReader::open_newer_than(ino_t ino, dev_t dev, bool have) {
  auto names = log_files(path_);
  std::deque<Fd> opened;
  for (const auto& name : names) {
    auto fd = Fd::open(name, O_RDONLY);
    if (!fd) continue;  // rotated out meanwhile
    struct stat st;
    if (have && ::fstat(fd->get(), &st) == 0 && st.st_ino == ino && st.st_dev == dev) {
      opened.clear();  // ours: only what came after it is new
      continue;
    }
    opened.push_back(std::move(*fd));
  }
  for (auto& fd : opened) files_.push_back(std::move(fd));
}

size_t RotatedLogReader::read(std::string& out) {
  char buf[16384];
  while (!files_.empty()) {
    ssize_t n = ::read(files_.front().get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      return static_cast<size_t>(n);
    }
    if (files_.size() == 1) return 0;  // the newest: more may come
    files_.pop_front();                // an older file, read to its end
  }
  return 0;
}

bool RotatedLogReader::follow_rotation() {
  struct stat now;
  if (::stat(path_.c_str(), &now) < 0) return false;
  if (files_.empty()) {
    open_newer_than(0, 0, false);
    return !files_.empty();
  }
  struct stat ours;
  if (::fstat(files_.back().get(), &ours) < 0) return false;
  if (ours.st_ino == now.st_ino && ours.st_dev == now.st_dev) return false;
  size_t before = files_.size();
  open_newer_than(ours.st_ino, ours.st_dev, true);
  return files_.size() > before;
}

}  // namespace vessel::daemon
