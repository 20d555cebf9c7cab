// A clustered instance's commands on any node (docs/cluster.md#forwarding):
//   POST .../stop, .../start   change its desired state in etcd ("stopped"), then wait (bounded)
//                              until the node running it shows it so; its answer is that node's view
//   POST .../migrate {"node"}  moves it (cluster_mover.h)
//   anything else              forwarded to the node running it when that is not this one
//                              (logs, exec, inspect, kill, pause ...; forward.h)
// DELETE is remove_clustered's (cluster_instances.cc). POST /v1/cluster/nodes/{name}/drain too is here.
#include <ctime>

#include "base/log.h"
#include "cluster/desired_state.h"
#include "daemon/api/cluster_mover.h"
#include "daemon/api/forward.h"
#include "daemon/api/requests.h"
#include "daemon/api/router.h"
#include "daemon/instances/migrate_request.h"
#include "daemon/spec/cluster_copy.h"

namespace vessel::daemon {

using namespace std::chrono_literals;
using cluster::InstanceRecord;

std::optional<http::Response> Api::clustered_instance(const http::Request& r, const std::vector<std::string>& parts,
                                                      std::string& label) {
  const std::string& name = parts[2];
  std::string verb = parts.size() == 4 ? parts[3] : "";
  bool desired_verb = r.method == "POST" && (verb == "stop" || verb == "start" || verb == "migrate");
  if (r.method == "DELETE" && parts.size() == 3) return std::nullopt;  // remove_clustered
  if (!desired_verb && manager_.get(name)) return std::nullopt;      // a local instance or copy
  auto record = cluster::DesiredState(cluster_->etcd()).get(name);
  if (!record) {
    // Without etcd a plain local instance is still stopped and started here; a clustered copy is not
    // (its record would undo it).
    auto here = manager_.get(name);
    if (!desired_verb || (here && !cluster_generation(*here))) return std::nullopt;
    return error_response(record.error());
  }
  if (!*record) return std::nullopt;  // not clustered: the local answer (404 when absent)
  if (desired_verb) {
    label = "POST /v1/instances/{name}/" + verb + " (cluster)";
    if (verb == "migrate") return move_clustered(r, name);
    return set_desired_stopped(r, name, verb == "stop");
  }
  const InstanceRecord& rec = **record;
  if (rec.node.empty() || rec.node == cluster_->name()) return std::nullopt;  // not placed, or arriving here
  label = r.method + " /v1/instances/{name}/* (forwarded)";
  auto node = cluster_->node(rec.node);
  if (!node) return error_response(node.error());
  bool inspect = r.method == "GET" && parts.size() == 3;
  if (!inspect) return forward_to(*cluster_, node->info, name, r);
  // inspect: the running node's view, or the record's when that node does not answer.
  auto view = ClusterMover(*cluster_, manager_).observe(rec.node, name);
  if (view) return ok(*view);
  auto fallback = get_in_cluster(name, Unexpected(Error(ENOENT, "not here")));
  if (!fallback) return error_response(fallback.error());
  (*fallback)["warning"] = view.error().to_string();
  return ok(*fallback);
}

http::Response Api::set_desired_stopped(const http::Request& request, const std::string& name, bool stopped) {
  std::optional<uint32_t> timeout_s;
  if (stopped) {
    auto req = parse_stop_request(request.body);
    if (!req) return error_response(req.error(), 400);
    timeout_s = req->force ? std::optional<uint32_t>(0) : req->timeout_s;
  }
  cluster::DesiredState desired(cluster_->etcd());
  auto record = desired.update(name, [&](InstanceRecord& r) -> Result<void> {
    r.stopped = stopped;
    r.stop_timeout_s = timeout_s;
    if (!stopped) r.started_at = ::time(nullptr);  // its node starts a copy that ended before
    return {};
  });
  if (!record) return error_response(record.error());
  if (record->node.empty()) return ok(json::Json{{"name", name}, {"state", "pending"}, {"stopped", stopped}, {"node", ""}});
  // A node that is down acts when it is back (or the instance moves, and its new node does).
  if (auto owner = cluster_->node(record->node); owner && !owner->ready)
    return ok(json::Json{{"name", name}, {"node", record->node}, {"stopped", stopped}, {"state", "unknown"},
                         {"warning", fmt::format("node {} is not ready: the cluster records {} {}; it is done when the "
                                                 "node is back or the instance moves",
                                                 record->node, name, stopped ? "stopped" : "started")}},
              202);
  // Docker's stop and start answer once it is so; the node running it acts within a second.
  auto seen = ClusterMover(*cluster_, manager_).wait_for(record->node, name, [&](const json::Json& v) {
    return stopped ? !view_has_process(v) : view_has_process(v);
  }, stopped ? std::chrono::seconds(timeout_s.value_or(30) + 10) : 20s);
  if (!seen)
    return error_response(Error(ETIMEDOUT, fmt::format("the cluster wants {} {}, but node {} has not done it yet: {}", name,
                                                       stopped ? "stopped" : "running", record->node, seen.error().message()))
                              .with_hint(fmt::format("it will when it can; see vessel inspect {} and vessel cluster inspect {}",
                                                     name, record->node)));
  json::Json view = seen->is_object() ? *seen : json::Json{{"name", name}, {"state", "stopped"}};
  view["node"] = record->node;
  return ok(view);
}

http::Response Api::move_clustered(const http::Request& r, const std::string& name) {
  auto to = parse_cluster_move_request(r.body);
  if (!to) return error_response(to.error(), 400);
  ClusterMover mover(*cluster_, manager_);
  if (!r.query_flag("progress")) {
    auto moved = mover.move(name, *to, [](const json::Json&) {});
    return moved ? ok(*moved) : error_response(moved.error());
  }
  return progress_stream([mover, name, to = *to](const PushStep& push) { return mover.move(name, to, push); },
                         fmt::format("the move of {}", name));
}

http::Response Api::drain_node(const http::Request& r, const std::string& node) {
  if (auto exists = cluster_->node(node); !exists) return error_response(exists.error());
  ClusterMover mover(*cluster_, manager_);
  if (!r.query_flag("progress")) {
    auto drained = mover.drain(node, [](const json::Json&) {});
    return drained ? ok(*drained) : error_response(drained.error());
  }
  return progress_stream([mover, node](const PushStep& push) { return mover.drain(node, push); },
                         fmt::format("the drain of {}", node));
}

}  // namespace vessel::daemon
