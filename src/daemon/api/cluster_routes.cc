// /v1/cluster/nodes[/{name}[/cordon|/uncordon|/drain]] (docs/daemon/api.yaml, docs/cluster.md): the
// cluster's nodes as etcd has them, from any member.
#include "daemon/api/router.h"

namespace vessel::daemon {

namespace {
json::Json status_json(const cluster::NodeStatus& s, const std::string& self) {
  json::Json j = cluster::node_status_json(s);
  j["local"] = s.info.name == self;
  return j;
}
}  // namespace

http::Response Api::cluster_route(const http::Request& r, const std::vector<std::string>& parts, std::string& label) {
  if (!cluster_)
    return error_response(Error(ENOENT, "this vesseld is not in a cluster")
                              .with_hint("start vesseld with --cluster http://ETCD:2379 --node NAME (docs/cluster.md)"));
  if (parts.size() < 3 || parts[2] != "nodes" || parts.size() > 5)
    return error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)));
  const std::string& self = cluster_->name();
  auto wrong_method = [&r] { return error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405); };
  if (parts.size() == 3) {
    label = "GET /v1/cluster/nodes";
    if (r.method != "GET") return wrong_method();
    auto nodes = cluster_->nodes();
    if (!nodes) return error_response(nodes.error());
    json::Json out = json::Json::array();
    for (const auto& n : *nodes) out.push_back(status_json(n, self));
    return ok(out);
  }
  const std::string& name = parts[3];
  if (parts.size() == 4) {
    label = "GET /v1/cluster/nodes/{name}";
    if (r.method != "GET") return wrong_method();
    auto node = cluster_->node(name);
    return node ? ok(status_json(*node, self)) : error_response(node.error());
  }
  if (parts[4] == "drain") {
    label = "POST /v1/cluster/nodes/{name}/drain";
    if (r.method != "POST") return wrong_method();
    return drain_node(r, name);
  }
  if (parts[4] != "cordon" && parts[4] != "uncordon")
    return error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)));
  label = "POST /v1/cluster/nodes/{name}/" + parts[4];
  if (r.method != "POST") return wrong_method();
  auto node = cluster_->set_cordoned(name, parts[4] == "cordon");
  return node ? ok(status_json(*node, self)) : error_response(node.error());
}

}  // namespace vessel::daemon
