#include "daemon/cluster_watchdog.h"

#include <signal.h>
#include <unistd.h>

#include "base/log.h"

namespace vessel::daemon {

Result<std::unique_ptr<ClusterWatchdog>> ClusterWatchdog::start(const std::string& program, const std::string& node) {
  auto page = TRY_CTX(watchdog::Page::create(), "the cluster watchdog's page");
  std::unique_ptr<ClusterWatchdog> w(new ClusterWatchdog(program, node, std::move(page)));
  TRY(w->spawn());
  return w;
}

// Its own session: a signal to vesseld's process group (a terminal's ^C, kill -9 -PGID) leaves it
// to do its work. The page is its standard input.
Result<void> ClusterWatchdog::spawn() {
  SpawnOptions o;
  o.stdin_fd = page_.fd();
  o.new_session = true;
  auto p = Process::spawn({program_, "--vesseld", std::to_string(::getpid()), "--node", node_}, o);
  if (!p)
    return Unexpected(std::move(p).error().add_context("start the cluster watchdog " + program_)
                          .with_hint("vessel-watchdog belongs beside vesseld (or in $PATH)"));
  process_ = std::move(*p);
  return {};
}

ClusterWatchdog::~ClusterWatchdog() {
  page_.publish({}, {}, 0);  // nothing to kill, should it see vesseld exit before its own end
  (void)process_.signal(SIGTERM);
  (void)process_.wait_for(std::chrono::seconds(1));
}  // Process kills (SIGKILL) and reaps it if it is still there

void ClusterWatchdog::publish(const std::vector<watchdog::WatchedProcess>& processes,
                              const std::vector<std::string>& cgroups, std::chrono::steady_clock::time_point kill_after) {
  if (auto exited = process_.wait_for(std::chrono::milliseconds(0)); !exited || *exited) {
    log::error("cluster: the watchdog exited ({}): starting it again",
               exited && *exited ? (*exited)->to_string() : std::string("unknown status"));
    if (auto again = spawn(); !again) log::error("cluster: {}", again.error().to_string());
  }
  if (processes.size() > watchdog::kMaxWatched && !warned_full_) {
    warned_full_ = true;
    log::warn("cluster: the watchdog guards {} of the {} clustered copies", watchdog::kMaxWatched, processes.size());
  }
  // Only copies adopted at a restart can be more: the fence refuses to start one it cannot list.
  if (cgroups.size() > watchdog::kMaxCgroups && !warned_full_cgroups_) {
    warned_full_cgroups_ = true;
    log::warn("cluster: the watchdog lists {} of the {} clustered copies' cgroups", watchdog::kMaxCgroups, cgroups.size());
  }
  page_.publish(processes, cgroups, std::chrono::duration_cast<std::chrono::nanoseconds>(kill_after.time_since_epoch()).count());
}

}  // namespace vessel::daemon
