#include "daemon/cluster_fence.h"

#include <signal.h>

#include <algorithm>

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
  manager_.set_start_guard(this);
  thread_ = std::thread([this] { run(); });
}

ClusterFence::~ClusterFence() {
  manager_.set_start_guard(nullptr);  // waits for the starts under way
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

// A start that ended is forgotten here, once the rows (read after it ended) say whether it runs.
void ClusterFence::arm() {
  auto rows = manager_.rows();
  if (!rows) return;  // keep the last list, and the starts
  std::erase_if(intents_, [](const auto& i) { return i.second.ended; });
  std::vector<Armed> armed;
  for (const auto& row : *rows) {
    if (row.state != to_string(State::Running) && row.state != to_string(State::Paused)) continue;
    auto spec = json::parse(row.spec);
    if (!spec || !cluster_generation(*spec) || row.pid <= 0) continue;
    Armed a{row.name, static_cast<pid_t>(row.pid), row.pid_start, {}};
    // The same run as last round: the same cgroup (Manager::cgroup_of reads the store for pools).
    auto last = std::find_if(armed_.begin(), armed_.end(), [&](const Armed& o) {
      return o.name == a.name && o.pid == a.pid && o.start_time == a.start_time;
    });
    a.cgroup = last != armed_.end() ? last->cgroup : manager_.cgroup_of(row.name);
    armed.push_back(std::move(a));
  }
  armed_ = std::move(armed);
}

std::vector<std::string> ClusterFence::listed_cgroups() const {
  std::set<std::string> cgroups;
  for (const auto& a : armed_) cgroups.insert(a.cgroup);
  for (const auto& [name, intent] : intents_) cgroups.insert(intent.cgroup);
  return {cgroups.begin(), cgroups.end()};
}

// Half the fence's margin before the lease's earliest expiry: later than this thread acts, so a
// healthy vesseld fences first (and knows what it fenced); still before etcd can expire the lease.
void ClusterFence::hand_to_watchdog() {
  if (!watchdog_) return;
  std::vector<watchdog::WatchedProcess> processes;
  for (const auto& a : armed_) processes.push_back({a.pid, a.start_time});
  watchdog_->publish(processes, listed_cgroups(), member_.lease_safe_until() - margin_ / 2);
}

void ClusterFence::track() {
  if (!safe()) return;  // the fence thread is killing, not arming
  std::lock_guard lock(arm_mutex_);
  arm();
  hand_to_watchdog();
}

Result<void> ClusterFence::starting(const std::string& name, const InstanceSpec& spec, const std::string& cgroup) {
  if (!spec.labels.count(kClusterGenerationLabel)) return {};
  if (!safe())
    return Unexpected(Error(EAGAIN, fmt::format("node {} has not renewed its lease in time: its clustered copies do "
                                                 "not start", member_.name()))
                          .with_hint("the reconciler starts it again once the lease is renewed"));
  if (cgroup.size() > watchdog::kMaxCgroupPath)
    return Unexpected(Error(ENAMETOOLONG, fmt::format("its cgroup {} is longer than the watchdog takes ({} bytes)",
                                                      cgroup, watchdog::kMaxCgroupPath))
                          .with_hint("give vesseld a shorter --cgroup-parent"));
  std::lock_guard lock(arm_mutex_);
  auto cgroups = listed_cgroups();
  if (cgroups.size() >= watchdog::kMaxCgroups && !std::binary_search(cgroups.begin(), cgroups.end(), cgroup))
    return Unexpected(Error(ENOSPC, fmt::format("the watchdog guards {} clustered copies at most, and as many run or "
                                                "start on node {}", watchdog::kMaxCgroups, member_.name()))
                          .with_hint("the cluster places it on another node once this one is full (vessel node ls)"));
  intents_[name] = Intent{cgroup, false};
  hand_to_watchdog();  // published before the start makes its first process
  return {};
}

void ClusterFence::started(const std::string& name) {
  std::lock_guard lock(arm_mutex_);
  auto it = intents_.find(name);
  if (it == intents_.end()) return;
  it->second.ended = true;
  if (!safe()) return;  // the fence thread is killing, not arming
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
