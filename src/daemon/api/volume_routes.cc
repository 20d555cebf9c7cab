// /v1/volumes (docs/daemon/api.yaml, docs/daemon/volumes.md): create, list, inspect, remove, and
// POST /v1/volumes/prune (Docker's name for removing every unused one).
#include "daemon/api/collection_route.h"
#include "daemon/api/router.h"

namespace vessel::daemon {

http::Response Api::volume_route(const http::Request& r, const std::vector<std::string>& parts, std::string& label) {
  if (!volumes_) return error_response(Error(ENOENT, "this vesseld has no volumes"));
  if (parts.size() == 3 && parts[2] == "prune" && r.method == "POST") {
    label = "POST /v1/volumes/prune";
    auto pruned = volumes_->prune();
    return pruned ? ok(*pruned) : error_response(pruned.error());
  }
  Collection c{
      .kind = "volumes",
      .list = [&] { return volumes_->list(); },
      .create = [&](const std::string& body) -> Result<json::Json> {
        auto request = TRY(parse_volume_request(body));
        return volumes_->create(request.name, request.labels);
      },
      .inspect = [&](const std::string& name) { return volumes_->inspect(name); },
      .update = {},
      .remove = [&](const std::string& name) { return volumes_->remove(name); },
  };
  return collection_route(r, parts, label, c);
}

}  // namespace vessel::daemon
