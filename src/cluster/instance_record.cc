#include "cluster/instance_record.h"

#include "cluster/node_record.h"

namespace vessel::cluster {

using json::Json;

Json instance_record_json(const InstanceRecord& r) {
  Json j = {{"name", r.name}, {"spec", r.spec},         {"node", r.node},         {"generation", r.generation},
            {"failover", r.failover}, {"cpus", r.cpus}, {"memory_mib", r.memory_mib}, {"stopped", r.stopped}};
  if (!r.placement.empty()) j["placement"] = placement_rules_json(r.placement);
  if (!r.moving_to.empty()) j["moving_to"] = r.moving_to;
  if (r.stop_timeout_s) j["stop_timeout_s"] = *r.stop_timeout_s;
  if (r.started_at) j["started_at"] = r.started_at;
  if (!r.storage.empty()) j["storage"] = r.storage;
  return j;
}

Result<InstanceRecord> parse_instance_record(std::string_view text) {
  auto j = TRY_CTX(json::parse(text, 4 << 20), "instance record");
  if (!j.is_object()) return fail(EINVAL, "instance record: expected an object");
  InstanceRecord r;
  r.name = TRY(json::get_string(j, "instance", "name"));
  if (r.name.empty() || r.name.size() > 63) return fail(EINVAL, "instance.name: 1-63 characters, not \"{}\"", r.name);
  r.node = TRY(json::opt_string(j, "instance", "node")).value_or("");
  if (!r.node.empty()) TRY_CTX(check_node_name(r.node), "instance.node");
  r.failover = TRY(json::opt_bool(j, "instance", "failover")).value_or(false);
  r.memory_mib = TRY(json::opt_uint(j, "instance", "memory_mib")).value_or(0);
  uint64_t generation = TRY(json::opt_uint(j, "instance", "generation")).value_or(0);
  if (generation > uint64_t(INT64_MAX)) return fail(EINVAL, "instance.generation: too large");
  r.generation = static_cast<int64_t>(generation);
  if (auto it = j.find("cpus"); it != j.end()) {
    if (!it->is_number() || it->get<double>() < 0) return fail(EINVAL, "instance.cpus: expected a number >= 0");
    r.cpus = it->get<double>();
  }
  r.stopped = TRY(json::opt_bool(j, "instance", "stopped")).value_or(false);
  r.moving_to = TRY(json::opt_string(j, "instance", "moving_to")).value_or("");
  if (auto t = TRY(json::opt_uint(j, "instance", "stop_timeout_s"))) {
    if (*t > 86400) return fail(EINVAL, "instance.stop_timeout_s: at most 86400");
    r.stop_timeout_s = static_cast<uint32_t>(*t);
  }
  uint64_t started_at = TRY(json::opt_uint(j, "instance", "started_at")).value_or(0);
  if (started_at > uint64_t(INT64_MAX)) return fail(EINVAL, "instance.started_at: too large");
  r.started_at = static_cast<int64_t>(started_at);
  if (!r.moving_to.empty()) TRY_CTX(check_node_name(r.moving_to), "instance.moving_to");
  r.storage = TRY(json::opt_string(j, "instance", "storage")).value_or("");
  if (r.storage == "local") r.storage.clear();
  if (!r.storage.empty() && r.storage != "backup") return fail(EINVAL, "instance.storage: local or backup, not \"{}\"", r.storage);
  if (auto it = j.find("placement"); it != j.end()) r.placement = TRY_CTX(parse_placement_rules(*it), "instance");
  auto spec = j.find("spec");
  if (spec == j.end() || !spec->is_object()) return fail(EINVAL, "instance.spec: expected an object");
  r.spec = *spec;
  return r;
}

}  // namespace vessel::cluster
