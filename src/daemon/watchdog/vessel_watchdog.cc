// vessel-watchdog: one per clustered vesseld, started by it (docs/cluster.md#the-watchdog). It
// kills (SIGKILL) the node's clustered copies when vesseld can no longer be trusted to fence
// them itself: when vesseld exits or is killed, and when the moment vesseld last published
// passes without a newer word from it (vesseld paused, hung, or its fence behind). The moment is
// vesseld's lease's earliest expiry minus a margin, so the copies die before etcd can expire the
// lease and the scheduler can place them elsewhere. It never starts anything: killed copies stay
// dead until vesseld's reconciler starts them again under a renewed lease.
//
//   vessel-watchdog --vesseld PID --node NAME   (the page, a memfd, on descriptor 0)
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "base/log.h"
#include "base/version.h"
#include "daemon/instances/guest_process.h"
#include "daemon/watchdog/cgroup_sweep.h"
#include "daemon/watchdog/watchdog_page.h"

namespace vessel::daemon::watchdog {
namespace {

constexpr int kPollMs = 20;
// How long the cgroups' members get to die (each is signalled again every 2 ms meanwhile).
constexpr std::chrono::seconds kSweepPatience{5};

int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Kills what the snapshot lists; a process that exited (or whose PID is another's now) is
// skipped. The processes first (known exactly, one signal each), then whatever their cgroups hold.
void kill_all(Snapshot& s, const char* why) {
  for (const auto& p : s.processes) {
    auto process = GuestProcess::adopt(p.pid, p.start_time);
    if (!process || !process->signal(SIGKILL)) continue;
    log::warn("killed clustered copy process {}: {}", p.pid, why);
  }
  auto began = std::chrono::steady_clock::now();
  auto swept = sweep_cgroups(s.cgroups, kSweepPatience);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
  if (swept.killed > 0)
    log::warn("killed {} processes in the cgroups of {} clustered copies ({} ms until they were empty): {}",
              swept.killed, s.cgroups.size(), took.count(), why);
  for (const auto& dir : swept.left) log::error("cgroup {} still has processes after {} s", dir, kSweepPatience.count());
  s.processes.clear();
  s.cgroups.clear();
  s.kill_after_ns = 0;
}

struct Args {
  pid_t vesseld = 0;
  std::string node;
};

bool parse(int argc, char** argv, Args& a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--vesseld") a.vesseld = static_cast<pid_t>(std::atoi(argv[i + 1]));
    else if (flag == "--node") a.node = argv[i + 1];
    else return false;
  }
  return a.vesseld > 0;
}

int watch(const Args& a) {
  auto page = Page::open(0);
  if (!page) return log::error("the page on descriptor 0: {}", page.error().to_string()), 2;
  Fd vesseld(static_cast<int>(::syscall(SYS_pidfd_open, a.vesseld, 0)));
  // Not our parent any more: vesseld is gone already (and has listed nothing yet).
  if (!vesseld || ::getppid() != a.vesseld) return log::error("vesseld {} is gone", a.vesseld), 1;
  log::info("watching vesseld {} (node {})", a.vesseld, a.node);
  Snapshot last;
  for (;;) {
    pollfd p{vesseld.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, kPollMs);
    page->read(last);  // false: nothing new, or vesseld stopped mid-update (the last one stands)
    if (ready > 0) {
      kill_all(last, "vesseld exited");
      return 0;
    }
    if (last.kill_after_ns != 0 && monotonic_ns() >= last.kill_after_ns) {
      log::warn("vesseld {} has not confirmed its lease in time: killing its {} clustered copies ({} cgroups)",
                a.vesseld, last.processes.size(), last.cgroups.size());
      kill_all(last, "the lease was not confirmed in time");  // once: the next word comes with a renewal
    }
  }
}

}  // namespace
}  // namespace vessel::daemon::watchdog

int main(int argc, char** argv) {
  using namespace vessel;
  daemon::watchdog::Args args;
  if (argc == 2 && (std::string(argv[1]) == "--version" || std::string(argv[1]) == "-V")) {
    std::printf("vessel-watchdog version %s\n", kVersion);
    return 0;
  }
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf(
        "usage: vessel-watchdog --vesseld PID --node NAME   (the shared page on descriptor 0)\n\n"
        "Started by vesseld --cluster, one per vesseld, never by hand. Kills (SIGKILL) the node's clustered\n"
        "instances' processes that vesseld lists in the page, and every process in the cgroups it lists there\n"
        "(running copies and copies being started), when vesseld exits, or when the deadline it\n"
        "last wrote passes with no newer word (vesseld paused or hung), before its lease in etcd can\n"
        "expire. Never kills anything else, never starts anything (docs/cluster.md#the-watchdog).\n");
    return 0;
  }
  if (!daemon::watchdog::parse(argc, argv, args)) {
    std::fprintf(stderr, "usage: vessel-watchdog --vesseld PID --node NAME (started by vesseld --cluster)\n");
    return 2;
  }
  log::set_program("vessel-watchdog " + args.node);
  ::signal(SIGPIPE, SIG_IGN);
  return daemon::watchdog::watch(args);
}
