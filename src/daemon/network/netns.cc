#include "daemon/network/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <optional>
#include <thread>

namespace vessel::daemon {

namespace {

// Runs `fn` on a fresh thread (namespace changes stay on that thread, which then ends) and
// hands back its result.
template <typename T, typename Fn>
Result<T> on_thread(Fn fn) {
  std::optional<Result<T>> out;
  std::thread t([&] { out.emplace(fn()); });
  t.join();
  return std::move(*out);
}

}  // namespace

Result<void> create_netns(const std::string& path) {
  remove_netns(path);
  {
    auto f = TRY(Fd::open(path, O_RDONLY | O_CREAT | O_EXCL, 0444));
  }
  auto made = on_thread<void>([&]() -> Result<void> {
    if (::unshare(CLONE_NEWNET) < 0) return fail_errno("unshare(CLONE_NEWNET)");
    if (::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) < 0)
      return fail_errno("bind-mount the new network namespace on {}", path);
    return {};
  });
  if (!made) ::unlink(path.c_str());
  return made;
}

void remove_netns(const std::string& path) {
  ::umount2(path.c_str(), MNT_DETACH);
  ::unlink(path.c_str());
}

Result<Rtnetlink> rtnetlink_in(const std::string& path) {
  auto ns = TRY(Fd::open(path, O_RDONLY));
  return on_thread<Rtnetlink>([&]() -> Result<Rtnetlink> {
    if (::setns(ns.get(), CLONE_NEWNET) < 0) return fail_errno("enter the network namespace {}", path);
    return Rtnetlink::open();
  });
}

Result<void> netns_sysctl(const std::string& path, const std::string& key, const std::string& value) {
  auto ns = TRY(Fd::open(path, O_RDONLY));
  return on_thread<void>([&]() -> Result<void> {
    if (::setns(ns.get(), CLONE_NEWNET) < 0) return fail_errno("enter the network namespace {}", path);
    // /proc/sys/net is the namespace of the task that opens it: this thread's, now.
    return write_file("/proc/sys/" + key, value);
  });
}

}  // namespace vessel::daemon
