// Tests that change the host's kernel knobs (/proc/sys, /sys/kernel/mm/ksm) as root: one at a time
// across test processes, and the old value put back at the end of the scope.
#pragma once

#include <gtest/gtest.h>
#include <sys/file.h>

#include <string>

#include "base/fd.h"

namespace vessel::test {

// Held while a test changes knobs: two tests saving and restoring the same knob in between each
// other (ctest runs test processes side by side) would leave it changed.
class KnobLock {
 public:
  KnobLock() : fd_(::open("/tmp/vessel-memory-knobs.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_.valid()) (void)::flock(fd_.get(), LOCK_EX);
  }

 private:
  Fd fd_;
};

// Writes `value` into a /proc or /sys file and puts the old value back at the end of the scope.
class Knob {
 public:
  Knob(std::string path, const std::string& value) : path_(std::move(path)) {
    old_ = read_file(path_).value_or("");
    auto w = write_file(path_, value);
    ok_ = static_cast<bool>(w);
    if (!w) ADD_FAILURE() << "write " << value << " to " << path_ << ": " << w.error().to_string();
  }
  ~Knob() {
    if (!old_.empty()) (void)write_file(path_, old_);
  }
  Knob(const Knob&) = delete;
  Knob& operator=(const Knob&) = delete;
  bool ok() const { return ok_; }
  std::string old() const { return old_; }

 private:
  std::string path_, old_;
  bool ok_ = false;
};

}  // namespace vessel::test
