// /v1/networks (docs/daemon/api.yaml, docs/daemon/networks.md): create, list, inspect, remove.
#include "daemon/api/collection_route.h"
#include "daemon/api/router.h"
#include "daemon/network/network_spec.h"

namespace vessel::daemon {

http::Response Api::network_route(const http::Request& r, const std::vector<std::string>& parts, std::string& label) {
  if (!networks_) return error_response(Error(ENOENT, "this vesseld has no networks"));
  Collection c{
      .kind = "networks",
      .list = [&] { return networks_->list(); },
      .create = [&](const std::string& body) -> Result<json::Json> {
        return networks_->create(TRY(parse_network_request(body)));
      },
      .inspect = [&](const std::string& name) { return networks_->inspect(name); },
      .update = {},
      .remove = [&](const std::string& name) { return networks_->remove(name); },
  };
  return collection_route(r, parts, label, c);
}

}  // namespace vessel::daemon
