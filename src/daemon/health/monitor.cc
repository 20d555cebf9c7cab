#include "daemon/health/monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <vector>

#include "base/log.h"

namespace vessel::daemon {

ExitMonitor::ExitMonitor(std::function<bool(const std::string&)> on_exit)
    : on_exit_(std::move(on_exit)), wake_(EventFd::create(0, EFD_NONBLOCK)) {
  thread_ = std::thread([this] { run(); });
}

ExitMonitor::~ExitMonitor() {
  stop_ = true;
  if (wake_) (void)wake_->signal();
  thread_.join();
}

void ExitMonitor::watch(const std::string& name, int pidfd) {
  {
    std::lock_guard lock(mutex_);
    watched_[name] = Watch{Fd(::fcntl(pidfd, F_DUPFD_CLOEXEC, 0)), ++generation_};
  }
  if (wake_) (void)wake_->signal();
}

void ExitMonitor::unwatch(const std::string& name) {
  {
    std::lock_guard lock(mutex_);
    watched_.erase(name);
  }
  if (wake_) (void)wake_->signal();
}

void ExitMonitor::run() {
  while (!stop_) {
    std::vector<pollfd> fds;
    std::vector<std::string> names;
    std::vector<uint64_t> generations;
    {
      std::lock_guard lock(mutex_);
      if (wake_) fds.push_back({wake_->fd(), POLLIN, 0});
      else fds.push_back({-1, 0, 0});
      names.emplace_back();
      generations.push_back(0);
      for (const auto& [name, w] : watched_) {
        fds.push_back({w.fd.get(), POLLIN, 0});
        names.push_back(name);
        generations.push_back(w.generation);
      }
    }
    int n = ::poll(fds.data(), fds.size(), 1000);
    if (n <= 0) continue;
    if (fds[0].revents && wake_) (void)wake_->consume();
    bool retry = false;
    for (size_t i = 1; i < fds.size() && !stop_; ++i) {
      if (!fds[i].revents) continue;
      if (on_exit_(names[i])) {
        std::lock_guard lock(mutex_);
        // Only if it is still the same pidfd: the instance may have been restarted meanwhile.
        auto it = watched_.find(names[i]);
        if (it != watched_.end() && it->second.generation == generations[i]) watched_.erase(it);
      } else {
        retry = true;
      }
    }
    if (retry) ::usleep(50 * 1000);
  }
}

}  // namespace vessel::daemon
