// /v1/pools (docs/daemon/api.yaml, docs/daemon/pools.md): create, list, inspect, change, remove.
#include "daemon/api/collection_route.h"
#include "daemon/api/router.h"
#include "daemon/policy/pool_spec.h"

namespace vessel::daemon {

http::Response Api::pool_route(const http::Request& r, const std::vector<std::string>& parts, std::string& label) {
  if (!pools_) return error_response(Error(ENOENT, "this vesseld has no pools"));
  Collection c{
      .kind = "pools",
      .list = [&] { return pools_->list(); },
      .create = [&](const std::string& body) -> Result<json::Json> { return pools_->create(TRY(parse_pool_spec_text(body))); },
      .inspect = [&](const std::string& name) { return pools_->inspect(name); },
      .update = [&](const std::string& name, const json::Json& body) { return pools_->update(name, body); },
      .remove = [&](const std::string& name) { return pools_->remove(name); },
  };
  return collection_route(r, parts, label, c);
}

}  // namespace vessel::daemon
