// `vessel logs`: an instance's log and its rotated files (base/rotating_log.h) read as one
// stream, oldest first. When following, a rotation is noticed by PATH's new inode: the file being
// read is finished, then the files that followed it are read in order, so nothing written
// between two polls is skipped even when the writer rotated more than once meanwhile.
#pragma once

#include <deque>
#include <string>

#include "base/fd.h"

namespace vessel::daemon {

class RotatedLogReader {
 public:
  // Opens every file of the log that exists now (none is fine: the guest has not written yet).
  explicit RotatedLogReader(std::string path);

  // Appends up to 16 KiB to `out`; returns how many bytes (0: at the end of what is open now).
  size_t read(std::string& out);
  // At the end of the newest open file: if PATH is now another file (rotated, or created), opens
  // the files that followed the one being read and returns true.
  bool follow_rotation();

 private:
  void open_newer_than(ino_t ino, dev_t dev, bool have);

  std::string path_;
  std::deque<Fd> files_;  // oldest first; the back one is the newest opened
};

}  // namespace vessel::daemon
