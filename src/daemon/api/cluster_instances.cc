// Clustered instances through any node's API (docs/cluster.md#desired-state): POST
// /v1/instances?cluster=1 writes the spec to etcd (the elected scheduler places it, the chosen
// node's reconciler runs it); GET /v1/instances[/NAME] show "node"; DELETE removes the record
// (the node running it then stops and removes its copy).
#include <set>
#include <thread>

#include "base/log.h"
#include "cluster/desired_state.h"
#include "daemon/api/cluster_live_list.h"
#include "daemon/api/router.h"
#include "daemon/spec/cluster_copy.h"

namespace vessel::daemon {

using namespace std::chrono_literals;

namespace {
Error not_in_cluster() {
  return Error(ENOENT, "this vesseld is not in a cluster")
      .with_hint("start vesseld with --cluster http://ETCD:2379 --node NAME (docs/cluster.md), or run it without --cluster-wide");
}

// The body of POST /v1/instances?cluster=1: the spec, with the record's own fields beside it: its
// "placement" rules (placement_rules.h) and its "storage" (local or backup), taken out here.
struct ClusteredBody {
  std::string spec;
  cluster::PlacementRules placement;
  std::string storage;
};
Result<ClusteredBody> split_clustered_body(const std::string& body) {
  auto j = json::parse(body, 4 << 20);
  if (!j || !j->is_object()) return ClusteredBody{body, {}, {}};
  ClusteredBody out;
  if (j->contains("placement")) out.placement = TRY(cluster::parse_placement_rules((*j)["placement"]));
  out.storage = TRY(json::opt_string(*j, "instance", "storage")).value_or("");
  if (out.storage == "local") out.storage.clear();
  if (!out.storage.empty() && out.storage != "backup")
    return Unexpected(Error(EINVAL, fmt::format("storage: local or backup, not \"{}\"", out.storage))
                          .with_hint("--cluster-storage backup restores the last backup on the new node (docs/cluster.md#storage)"));
  j->erase("placement");
  j->erase("storage");
  out.spec = json::dump(*j);
  return out;
}

// What a node that does not run the instance says about it: the record's view.
json::Json record_view(const cluster::InstanceRecord& r) {
  json::Json j = {{"name", r.name},
                  {"type", r.spec.value("type", "container")},
                  {"image", r.spec.value("image", "")},
                  {"rootfs", r.spec.value("rootfs", "")},
                  {"node", r.node},
                  {"generation", r.generation},
                  {"cluster", true},
                  {"state", r.node.empty() ? "pending" : "remote"}};
  if (r.spec.contains("restart")) j["restart"] = r.spec["restart"];
  if (r.stopped) j["stopped"] = true;
  if (!r.placement.empty()) j["placement"] = cluster::placement_rules_json(r.placement);
  if (!r.storage.empty()) j["storage"] = r.storage;
  return j;
}
}  // namespace

http::Response Api::create_clustered(const http::Request& r, Role role) {
  if (!cluster_) return error_response(not_in_cluster());
  auto split = split_clustered_body(r.body);
  if (!split) return error_response(split.error(), 400);
  auto spec = parse_spec_text(split->spec);
  if (!spec) return error_response(spec.error(), 400);
  if (spec->name.empty())
    return error_response(Error(EINVAL, "a clustered instance needs a name").with_hint("add --name NAME"), 400);
  if (spec->auto_remove)
    return error_response(Error(EINVAL, "a clustered instance cannot be --rm").with_hint("drop --rm"), 400);
  if (auto allowed = host_paths_.admit(*spec, role); !allowed) return error_response(allowed.error());
  cluster::InstanceRecord record;
  record.name = spec->name;
  record.spec = to_json(*spec);
  record.failover = spec->restart.mode != RestartMode::No;
  record.cpus = spec->cpu_reservation > 0 ? spec->cpu_reservation : spec->cpu_quota.value_or(spec->cpus);
  record.memory_mib = spec->memory_reservation_mib > 0 ? spec->memory_reservation_mib : spec->memory_mib;
  record.placement = split->placement;
  record.storage = split->storage;
  cluster::DesiredState desired(cluster_->etcd());
  auto created = desired.create(record);
  if (!created) return error_response(created.error());
  // The scheduler places it within a period; answer with the node when it is known by then.
  for (int i = 0; i < 40 && created->node.empty(); ++i) {
    std::this_thread::sleep_for(50ms);
    if (auto now = desired.get(record.name); now && *now) *created = **now;
  }
  return ok(record_view(*created), 201);
}

namespace {
// A local instance in a cluster: its node is this one; a clustered copy says its generation.
void annotate_local(json::Json& i, const std::string& node) {
  i["node"] = node;
  if (auto generation = cluster_generation(i)) {
    i["generation"] = *generation;
    i["cluster"] = true;
  }
}
}  // namespace

Result<json::Json> Api::list_in_cluster(json::Json local, bool forwarded) {
  std::set<std::string> here;
  for (auto& i : local) {
    here.insert(i.value("name", ""));
    annotate_local(i, cluster_->name());
  }
  if (forwarded) return local;
  // Out of touch with etcd, a node still lists what it runs.
  auto list = cluster::DesiredState(cluster_->etcd()).list();
  if (!list) {
    log::warn("GET /v1/instances: the cluster's other instances are left out: {}", list.error().to_string());
    return local;
  }
  std::vector<const cluster::InstanceRecord*> elsewhere;
  for (const auto& record : list->records)
    if (!here.count(record.name)) elsewhere.push_back(&record);
  auto live = live_views(*cluster_, elsewhere);  // as the nodes that run them see them
  for (const auto* record : elsewhere) {
    auto it = live.find(record->name);
    local.push_back(it != live.end() ? it->second : record_view(*record));
  }
  return local;
}

Result<json::Json> Api::get_in_cluster(const std::string& name, Result<json::Json> local) {
  if (local) {
    annotate_local(*local, cluster_->name());
    return local;
  }
  if (local.error().errnum() != ENOENT) return local;
  auto record = TRY(cluster::DesiredState(cluster_->etcd()).get(name));
  if (!record) return local;
  return record_view(*record);
}

std::optional<http::Response> Api::remove_clustered(const std::string& name) {
  cluster::DesiredState desired(cluster_->etcd());
  auto record = desired.get(name);
  if (!record) {
    // Without etcd a plain local instance can still go; a clustered copy cannot (it would come back).
    auto here = manager_.get(name);
    if (here && !cluster_generation(*here)) return std::nullopt;
    return error_response(record.error());
  }
  if (!*record) return std::nullopt;
  if (auto removed = desired.remove(**record); !removed) return error_response(removed.error());
  return http::Response::no_content();
}

}  // namespace vessel::daemon
