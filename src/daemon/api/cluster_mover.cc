#include "daemon/api/cluster_mover.h"

#include <thread>

#include "base/log.h"
#include "cluster/desired_state.h"
#include "cluster/placement_plan.h"
#include "daemon/api/forward.h"
#include "daemon/instances/state.h"
#include "daemon/spec/cluster_copy.h"

namespace vessel::daemon {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using cluster::InstanceRecord;

bool view_has_process(const json::Json& view) {
  auto state = parse_state(view.is_object() ? view.value("state", "") : "");
  return state && has_process(*state);
}

namespace {
std::optional<int64_t> generation_of(const json::Json& view) {
  if (!view.is_object()) return std::nullopt;
  if (auto it = view.find("generation"); it != view.end() && it->is_number_integer()) return it->get<int64_t>();
  return cluster_generation(view);
}
}  // namespace

Result<json::Json> ClusterMover::observe(const std::string& node, const std::string& name) const {
  if (node == member_.name()) return manager_.get(name);
  auto info = TRY(member_.node(node));
  auto answer = TRY(call_node(member_, info.info, "GET", "/v1/instances/" + http::escape_segment(name), {}, 3s));
  if (answer.status == 404) return fail(ENOENT, "node {} has no copy of {}", node, name);
  if (answer.status != 200) return fail(EIO, "node {} answered {} about {}: {}", node, answer.status, name, answer.body);
  return TRY_CTX(json::parse(answer.body), "node {}'s view of {}", node, name);
}

Result<json::Json> ClusterMover::wait_for(const std::string& node, const std::string& name,
                                          const std::function<bool(const json::Json&)>& done,
                                          std::chrono::milliseconds timeout) const {
  auto until = Clock::now() + timeout;
  Error last(ETIMEDOUT, "not seen yet");
  for (;;) {
    auto view = observe(node, name);
    if (view && done(*view)) return view;
    if (!view && view.error().errnum() == ENOENT && done(json::Json())) return json::Json();
    if (!view) last = view.error();
    if (Clock::now() >= until) break;
    std::this_thread::sleep_for(100ms);
  }
  return Unexpected(Error(ETIMEDOUT, fmt::format("{} on node {} did not get there within {} s (last: {})", name, node,
                                                 std::chrono::duration_cast<std::chrono::seconds>(timeout).count(),
                                                 last.to_string()))
                        .with_hint(fmt::format("see vessel cluster inspect {} and that node's log", node)));
}

Result<std::string> ClusterMover::choose(const InstanceRecord& record, const std::string& to) const {
  auto nodes = TRY(member_.nodes());
  auto list = TRY(cluster::DesiredState(member_.etcd()).list());
  size_t which = list.records.size();
  for (size_t i = 0; i < list.records.size(); ++i)
    if (list.records[i].name == record.name) which = i;
  if (which == list.records.size()) return fail(ENOENT, "the cluster has no instance named {}", record.name);
  if (!to.empty()) {
    bool known = false;
    for (auto& n : nodes) {
      known = known || n.info.name == to;
      if (n.info.name != to && n.info.name != record.node) n.cordoned = true;  // only `to` may take it
    }
    if (!known)
      return Unexpected(Error(ENOENT, fmt::format("the cluster has no node named {}", to)).with_hint("see vessel cluster ls"));
  }
  auto chosen = cluster::plan_move(nodes, list.records, which, cluster::placement::Policy::Spread);
  if (!chosen)
    return Unexpected(Error(ENOSPC, fmt::format("cannot move {}{}: {}", record.name, to.empty() ? "" : " to " + to,
                                                chosen.error().message()))
                          .with_hint("the node must be ready, not cordoned, have room and match the instance's placement rules"));
  return chosen;
}

Result<json::Json> ClusterMover::move(const std::string& name, const std::string& to, const PushStep& step) const {
  auto begin = Clock::now();
  cluster::DesiredState desired(member_.etcd());
  auto read = TRY(desired.get(name));
  if (!read) return Unexpected(Error(ENOENT, fmt::format("the cluster has no instance named {}", name)));
  InstanceRecord record = std::move(*read);
  if (record.node.empty()) return fail(EAGAIN, "{} is not placed yet: the scheduler places it first", name);
  if (record.node == to) return fail(EINVAL, "{} already runs on {}", name, to);
  std::string target = TRY(choose(record, to));
  const std::string from = record.node;
  const bool was_stopped = record.stopped;
  const int64_t generation = record.generation;
  auto from_status = member_.node(from);
  bool from_ready = from_status && from_status->ready;
  if (from_ready && !was_stopped && record.spec.value("type", "") == "vm") {
    auto live = move_live(record, target, step);
    if (live) {
      (*live)["seconds"] = std::chrono::duration<double>(Clock::now() - begin).count();
      return live;
    }
    step({{"progress", "live-failed"}, {"name", name}, {"error", live.error().to_string()}});
    log::warn("cluster: live migration of {} to {} failed, moving it cold: {}", name, target, live.error().to_string());
    record = TRY(desired.get(name)).value_or(record);
  }
  step({{"progress", "stop"}, {"name", name}, {"from", from}, {"to", target}});
  if (from_ready && !was_stopped) {
    record = TRY(desired.update(name, [&](InstanceRecord& r) -> Result<void> {
      if (r.node != from || r.generation != generation) return fail(ESTALE, "{} moved meanwhile", name);
      r.stopped = true;
      return {};
    }));
    auto stopped = wait_for(from, name, [](const json::Json& v) { return !view_has_process(v); }, 30s);
    if (!stopped) {
      (void)desired.update(name, [&](InstanceRecord& r) -> Result<void> {
        r.stopped = was_stopped;
        return {};
      });
      return Unexpected(stopped.error().add_context(fmt::format("stop {} on {} before moving it; it stays there", name, from)));
    }
  }
  step({{"progress", "move"}, {"name", name}, {"from", from}, {"to", target}});
  record = TRY(desired.update(name, [&](InstanceRecord& r) -> Result<void> {
    if (r.node != from || r.generation != generation) return fail(ESTALE, "{} moved meanwhile", name);
    r.node = target;
    r.generation = generation + 1;
    r.stopped = was_stopped;
    r.moving_to.clear();  // a live move that never finished (its mover died) ends here
    return {};
  }));
  log::info("cluster: moving {} from {} to {} (generation {})", name, from, target, record.generation);
  step({{"progress", "start"}, {"name", name}, {"to", target}, {"generation", record.generation}});
  auto arrived = wait_for(target, name, [&](const json::Json& v) {
    return generation_of(v) == record.generation && (was_stopped || view_has_process(v));
  }, 60s);
  if (!arrived) return Unexpected(arrived.error().add_context(fmt::format("{} was moved to {} (generation {})", name, target, record.generation)));
  return json::Json{{"name", name}, {"from", from}, {"to", target}, {"generation", record.generation},
                    {"seconds", std::chrono::duration<double>(Clock::now() - begin).count()}};
}

Result<json::Json> ClusterMover::move_live(const InstanceRecord& record, const std::string& to,
                                           const PushStep& step) const {
  cluster::DesiredState desired(member_.etcd());
  const std::string& name = record.name;
  auto view = TRY(observe(record.node, name));
  if (!view_has_process(view)) return fail(EAGAIN, "{} is not running on {}", name, record.node);
  auto from_node = TRY(member_.node(record.node));
  auto to_node = TRY(member_.node(to));
  auto destination = TRY(node_endpoint(member_, to_node.info));
  auto same = [&](const InstanceRecord& r) -> Result<void> {
    if (r.node != record.node || r.generation != record.generation) return fail(ESTALE, "{} moved meanwhile", name);
    return {};
  };
  TRY(desired.update(name, [&](InstanceRecord& r) -> Result<void> {
    TRY(same(r));
    r.moving_to = to;
    return {};
  }));
  step({{"progress", "live"}, {"name", name}, {"from", record.node}, {"to", to}});
  // Another host: its API over TLS, its key pinned as its record says (docs/daemon/migrate.md).
  json::Json body = destination.socket.empty()
                        ? json::Json{{"destination", to_node.info.advertise},
                                     {"destination_pubkey_sha256", to_node.info.tls_pubkey_sha256}}
                        : json::Json{{"destination", "unix:" + destination.socket}};
  auto answer = call_node(member_, from_node.info, "POST", "/v1/instances/" + http::escape_segment(name) + "/migrate",
                          body.dump(), std::chrono::minutes(5));
  bool moved = answer && answer->status == 200;
  auto written = desired.update(name, [&](InstanceRecord& r) -> Result<void> {
    TRY(same(r));
    r.moving_to.clear();
    if (moved) r.node = to;  // the same guest, the same generation: the copy there carries it
    return {};
  });
  if (!answer) return Unexpected(answer.error());
  if (!moved) return fail(EIO, "node {} did not migrate it: {}", record.node, answer->body);
  if (!written) return Unexpected(written.error().add_context(fmt::format("{} runs on {} now, but the record", name, to)));
  auto report = json::parse(answer->body).value_or(json::Json::object());
  log::info("cluster: {} live-migrated from {} to {} (generation {})", name, record.node, to, record.generation);
  return json::Json{{"name", name}, {"from", record.node}, {"to", to}, {"generation", record.generation}, {"live", true},
                    {"downtime_ms", report.value("downtime_ms", 0.0)}};
}

Result<json::Json> ClusterMover::drain(const std::string& node, const PushStep& step) const {
  auto begin = Clock::now();
  TRY(member_.set_cordoned(node, true));
  step({{"progress", "cordoned"}, {"node", node}});
  auto list = TRY(cluster::DesiredState(member_.etcd()).list());
  json::Json moved = json::Json::array(), failed = json::Json::array();
  for (const auto& record : list.records) {
    if (record.node != node) continue;
    auto done = move(record.name, "", step);
    if (done) {
      step({{"progress", "moved"}, {"report", *done}});
      moved.push_back(*done);
      continue;
    }
    step({{"progress", "failed"}, {"name", record.name}, {"error", done.error().to_string()}});
    failed.push_back({{"name", record.name}, {"error", done.error().to_string()}});
  }
  return json::Json{{"node", node}, {"moved", moved}, {"failed", failed},
                    {"seconds", std::chrono::duration<double>(Clock::now() - begin).count()}};
}

}  // namespace vessel::daemon
