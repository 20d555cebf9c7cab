#include "daemon/cluster_fence.h"

#include <signal.h>

#include "base/log.h"
#include "daemon/instances/guest_process.h"
#include "daemon/instances/state.h"
#include "daemon/spec/cluster_copy.h"

namespace vessel::daemon {

using namespace std::chrono_literals;

ClusterFence::ClusterFence(Manager& manager, const cluster::Membership& member,
                           std::unique_ptr<ClusterWatchdog> watchdog)
    : manager_(manager), member_(member),
      margin_(std::max<std::chrono::milliseconds>(500ms, std::chrono::milliseconds(member.ttl_seconds() * 250))),
      watchdog_(std::move(watchdog)) {
  thread_ = std::thread([this] { run(); });
}

ClusterFence::~ClusterFence() {
  stop_.stop();
  if (thread_.joinable()) thread_.join();
}

bool ClusterFence::safe() const { return std::chrono::steady_clock::now() + margin_ < member_.lease_safe_until(); }

std::set<std::string> ClusterFence::fenced() const {
  std::lock_guard lock(mutex_);
  return fenced_;
}

void ClusterFence::forget(const std::string& name) {
  std::lock_guard lock(mutex_);
  fenced_.erase(name);
}

void ClusterFence::run() {
  while (!stop_.wait_for(100ms)) {
    bool unsafe = !safe();
    if (unsafe != fencing_) {
      fencing_ = unsafe;
      if (unsafe)
        log::warn("cluster: node {} has not renewed its lease in time: fencing (killing) its clustered instances",
                  member_.name());
      else
        log::info("cluster: node {} renewed its lease: its fenced instances may start again", member_.name());
    }
    if (!unsafe) {
      std::lock_guard lock(arm_mutex_);
      arm();
      hand_to_watchdog();
      continue;
    }
    {
      std::lock_guard lock(arm_mutex_);
      kill_armed();
    }
    fence();
  }
}

void ClusterFence::arm() {
  auto rows = manager_.rows();
  if (!rows) return;  // keep the last list
  armed_.clear();
  for (const auto& row : *rows) {
    if (row.state != to_string(State::Running) && row.state != to_string(State::Paused)) continue;
    auto spec = json::parse(row.spec);
    if (!spec || !cluster_generation(*spec) || row.pid <= 0) continue;
    armed_.push_back({row.name, static_cast<pid_t>(row.pid), row.pid_start});
  }
}

// Half the fence's margin before the lease's earliest expiry: later than this thread acts, so a
// healthy vesseld fences first (and knows what it fenced); still before etcd can expire the lease.
void ClusterFence::hand_to_watchdog() {
  if (!watchdog_) return;
  std::vector<watchdog::WatchedProcess> processes;
  for (const auto& a : armed_) processes.push_back({a.pid, a.start_time});
  watchdog_->publish(processes, member_.lease_safe_until() - margin_ / 2);
}

void ClusterFence::track() {
  if (!safe()) return;  // the fence thread is killing, not arming
  std::lock_guard lock(arm_mutex_);
  arm();
  hand_to_watchdog();
}

// The processes themselves first: a pidfd for (PID, start time) never signals a reused PID. A
// process already gone counts as fenced too: the watchdog killed it while vesseld was paused, and
// the reconciler is to start it again if the cluster still assigns it here.
void ClusterFence::kill_armed() {
  for (const auto& a : armed_) {
    auto process = GuestProcess::adopt(a.pid, a.start_time);
    if (process && process->signal(SIGKILL)) log::warn("cluster: fenced {} (killed process {})", a.name, a.pid);
    std::lock_guard lock(mutex_);
    fenced_.insert(a.name);
  }
  armed_.clear();
}

// Every running clustered copy is killed at once (no graceful stop: the lease may expire soon).
void ClusterFence::fence() {
  auto rows = manager_.rows();
  if (!rows) return log::warn("cluster: fencing: {}", rows.error().to_string());
  for (const auto& row : *rows) {
    if (row.state != to_string(State::Running) && row.state != to_string(State::Paused)) continue;
    auto spec = json::parse(row.spec);
    if (!spec || !cluster_generation(*spec)) continue;
    auto killed = manager_.kill(row.name, SIGKILL);
    if (!killed && killed.error().errnum() != EBUSY) {
      log::warn("cluster: fencing {}: {}", row.name, killed.error().to_string());
      continue;
    }
    log::warn("cluster: fenced {}", row.name);
    std::lock_guard lock(mutex_);
    fenced_.insert(row.name);
  }
}

}  // namespace vessel::daemon
