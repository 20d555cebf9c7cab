#include "daemon/cluster_reconciler.h"

#include <set>

#include "base/log.h"
#include "daemon/cluster_image_fetch.h"
#include "daemon/instances/state.h"
#include "daemon/spec/cluster_copy.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {

using namespace std::chrono_literals;
using cluster::InstanceRecord;

ClusterReconciler::ClusterReconciler(Manager& manager, ImageStore& images, const cluster::Membership& member,
                                     ClusterFence& fence, ClusterBackups* backups)
    : manager_(manager), images_(images), member_(member), fence_(fence), backups_(backups), desired_(member.etcd()) {
  watcher_ = std::thread([this] { watch(); });
  runner_ = std::thread([this] { run(); });
}

ClusterReconciler::~ClusterReconciler() {
  stop_.stop();
  if (watcher_.joinable()) watcher_.join();
  if (runner_.joinable()) runner_.join();
}

void ClusterReconciler::watch() {
  cluster::etcd::WatchRequest request;
  request.key = cluster::kInstancesPrefix;
  request.range_end = cluster::etcd::prefix_end(request.key);
  request.cancelled = [this] { return stopping(); };
  auto changed = [this](const cluster::etcd::WatchMessage& m) {
    if (m.created || !m.events.empty()) {
      dirty_ = true;  // a (re)started watch may have missed changes: one pass reads them all
      stop_.notify();
    }
    return !stopping();
  };
  while (!stopping()) {
    auto ended = member_.etcd().watch(request, changed);
    if (stopping()) break;
    if (!ended) log::debug("cluster: watch of the instances ended: {}", ended.error().to_string());
    stop_.wait_for(1s);
  }
}

void ClusterReconciler::run() {
  while (!stop_.wait_for(1s, [this] { return dirty_.load(); })) {
    dirty_ = false;
    if (auto r = pass(); !r) log::debug("cluster: reconcile: {}", r.error().to_string());
  }
}

namespace {
// Should a stopped copy start again by the record's restart policy (docs/daemon/restart.md)?
bool restart_wanted(const InstanceRecord& record, const InstanceRow& row) {
  auto text = record.spec.find("restart");
  if (text == record.spec.end() || !text->is_string()) return false;
  auto policy = parse_restart_policy(text->get<std::string>());
  if (!policy) return false;
  switch (policy->mode) {
    case RestartMode::Always:
    case RestartMode::UnlessStopped: return true;
    case RestartMode::OnFailure: return row.exit_code && *row.exit_code != 0;
    case RestartMode::No: return false;
  }
  return false;
}
}  // namespace

Result<void> ClusterReconciler::pass() {
  if (!fence_.safe()) return {};  // the fence stops; nothing starts until the lease is renewed
  auto list = TRY(desired_.list());
  auto rows = TRY(manager_.rows());
  std::map<std::string, const InstanceRow*> local;
  for (const auto& row : rows) local[row.name] = &row;
  std::map<std::string, const InstanceRecord*> assigned;
  std::set<std::string> arriving;  // live-migrating here: the copy is the source's until the record says so
  for (const auto& record : list.records) {
    if (record.node == member_.name()) assigned[record.name] = &record;
    if (record.moving_to == member_.name()) arriving.insert(record.name);
  }
  auto fenced = fence_.fenced();
  for (const auto& [name, record] : assigned) {
    if (!record->moving_to.empty()) continue;  // leaving by live migration: neither restarted nor re-created
    auto it = local.find(name);
    make_ours(*record, it == local.end() ? nullptr : it->second, fenced.count(name) > 0);
  }
  for (const auto& row : rows) {
    auto spec = json::parse(row.spec);
    if (!spec || !cluster_generation(*spec) || assigned.count(row.name) || arriving.count(row.name)) continue;
    drop(row.name, "the cluster does not assign it to this node any more");
  }
  return {};
}

void ClusterReconciler::make_ours(const InstanceRecord& record, const InstanceRow* local, bool was_fenced) {
  if (local) {
    auto spec = json::parse(local->spec);
    auto generation = spec ? cluster_generation(*spec) : std::nullopt;
    if (!generation) {
      return warn_once(record, Error(EEXIST, fmt::format("a local instance named {} is in the way", record.name))
                                   .with_hint("rename or remove the local one (vessel rm)"));
    }
    if (*generation != record.generation) {
      drop(record.name, "its generation moved on");
      local = nullptr;
    } else if (record.stopped) {
      held_stopped_.insert(record.name);
      return keep_stopped(record, *local);
    } else if (local->state == to_string(State::Stopped) || local->state == to_string(State::Created)) {
      // vessel start after vessel stop, or after the copy ended by itself (as docker start). A
      // copy that ends within the second of a start is not started again.
      bool started_by_user = held_stopped_.count(record.name) > 0 || local->finished_at < record.started_at;
      if (!was_fenced && !started_by_user && !restart_wanted(record, *local) && local->state != to_string(State::Created))
        return;
      if (auto started = manager_.act(record.name, Action::Start); !started) return warn_once(record, started.error());
      held_stopped_.erase(record.name);
      fence_.forget(record.name);
      fence_.track();
      log::info("cluster: started {} again (generation {})", record.name, record.generation);
      return;
    } else {
      return;
    }
  }
  if (auto created = create_copy(record); !created) return warn_once(record, created.error());
  fence_.track();
  log::info("cluster: {} {} here (generation {})", record.stopped ? "created (stopped)" : "running", record.name,
            record.generation);
}

// vessel stop of a clustered instance: the record says stopped, whatever its restart policy.
void ClusterReconciler::keep_stopped(const InstanceRecord& record, const InstanceRow& local) {
  fence_.forget(record.name);
  if (local.state == to_string(State::Stopped) || local.state == to_string(State::Created)) return;
  ActOptions options;
  options.timeout_s = record.stop_timeout_s;  // vessel stop -t (or --force: 0); else the spec's
  if (auto stopped = manager_.act(record.name, Action::Stop, options); !stopped) return warn_once(record, stopped.error());
  log::info("cluster: stopped {} (generation {}): the cluster wants it stopped", record.name, record.generation);
}

Result<void> ClusterReconciler::create_copy(const InstanceRecord& record) {
  auto copy = cluster_copy_spec(record.spec, record.generation);
  if (record.storage == "backup") {
    if (!backups_)
      return Unexpected(Error(ENOTSUP, "its storage is backup, and this node has no --cluster-backups")
                            .with_hint("start every node with --cluster-backups DIR, a directory all of them share"));
    if (auto path = backups_->latest(record.name)) {
      TRY(backups_->restore(copy, *path, !record.stopped));
      log::info("cluster: {} restored from {}", record.name, *path);
      return {};
    }
  }
  auto spec = TRY_CTX(parse_spec(copy), "the cluster's spec of {}", record.name);
  if (!spec.image.empty()) TRY_CTX(fetch_image_from_peers(images_, member_, spec.image), "{}", record.name);
  if (record.stopped) TRY(manager_.create(spec));
  else TRY(manager_.run(spec));
  return {};
}

void ClusterReconciler::drop(const std::string& name, const char* why) {
  fence_.forget(name);
  held_stopped_.erase(name);
  if (auto removed = manager_.remove(name, true); !removed)
    log::warn("cluster: remove the local copy of {} ({}): {}", name, why, removed.error().to_string());
  else
    log::info("cluster: removed the local copy of {}: {}", name, why);
  fence_.track();  // its cgroup leaves the watchdog's list now (a local instance may take the name)
}

void ClusterReconciler::warn_once(const InstanceRecord& record, const Error& error) {
  auto [it, fresh] = warned_.try_emplace(record.name, record.generation);
  if (!fresh && it->second == record.generation) return;
  it->second = record.generation;
  log::warn("cluster: cannot run {} (generation {}) here: {}", record.name, record.generation, error.to_string());
}

}  // namespace vessel::daemon
