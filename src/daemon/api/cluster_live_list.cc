#include "daemon/api/cluster_live_list.h"

#include <functional>
#include <future>
#include <set>

#include "base/log.h"
#include "daemon/api/forward.h"

namespace vessel::daemon {

namespace {
// The instances `node` runs, as it lists them (empty when it does not answer).
json::Json listed_by(const cluster::NodeInfo& node, const cluster::Membership& self) {
  auto answer = call_node(self, node, "GET", "/v1/instances", {}, std::chrono::seconds(2));
  if (!answer || answer->status != 200) {
    log::debug("GET /v1/instances: node {} did not list its instances: {}", node.name,
               answer ? std::to_string(answer->status) : answer.error().to_string());
    return json::Json::array();
  }
  auto j = json::parse(answer->body, 16 << 20);
  return j && j->is_array() ? *j : json::Json::array();
}
}  // namespace

std::map<std::string, json::Json> live_views(const cluster::Membership& self,
                                             const std::vector<const cluster::InstanceRecord*>& records) {
  std::map<std::string, json::Json> views;
  std::set<std::string> wanted;
  for (const auto* r : records)
    if (!r->node.empty() && r->node != self.name()) wanted.insert(r->node);
  auto nodes = self.nodes();
  if (!nodes || wanted.empty()) return views;
  std::map<std::string, std::future<json::Json>> asked;
  for (const auto& n : *nodes)
    if (n.ready && wanted.count(n.info.name))
      asked[n.info.name] = std::async(std::launch::async, listed_by, n.info, std::cref(self));
  std::map<std::string, json::Json> by_node;
  for (auto& [name, answer] : asked) by_node[name] = answer.get();
  for (const auto* r : records) {
    auto it = by_node.find(r->node);
    if (it == by_node.end()) continue;
    for (const auto& i : it->second)
      if (i.is_object() && i.value("name", "") == r->name && i.value("generation", int64_t(-1)) == r->generation)
        views[r->name] = i;
  }
  return views;
}

}  // namespace vessel::daemon
