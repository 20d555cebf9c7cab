// Watches the processes of running guests (pidfds) on one thread and reports each exit, so that
// a guest that powers off or crashes is marked stopped without anyone asking.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "base/fd.h"

namespace vessel::daemon {

class ExitMonitor {
 public:
  // on_exit(name) returns false when it could not handle the exit yet (an operation holds the
  // instance): the monitor retries shortly.
  explicit ExitMonitor(std::function<bool(const std::string&)> on_exit);
  ~ExitMonitor();
  void watch(const std::string& name, int pidfd);  // dups pidfd
  void unwatch(const std::string& name);

 private:
  void run();

  std::function<bool(const std::string&)> on_exit_;
  std::mutex mutex_;
  struct Watch {
    Fd fd;
    uint64_t generation;
  };
  std::map<std::string, Watch> watched_;
  uint64_t generation_ = 0;
  Result<EventFd> wake_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace vessel::daemon
