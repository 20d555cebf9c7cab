// /v1/networks (docs/daemon/api.yaml, docs/daemon/networks.md): create, list, inspect, remove.
#include "daemon/api/router.h"
#include "daemon/network/network_spec.h"

namespace vessel::daemon {

namespace {

http::Response ok(const json::Json& j, int status = 200) { return http::Response::json(status, json::dump(j) + "\n"); }

}  // namespace

http::Response Api::network_route(const http::Request& r, const std::vector<std::string>& parts, std::string& label) {
  if (!networks_) return error_response(Error(ENOENT, "this vesseld has no networks"));
  auto not_allowed = [&] {
    return error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405);
  };
  if (parts.size() == 2) {
    if (r.method == "GET") {
      label = "GET /v1/networks";
      auto list = networks_->list();
      return list ? ok(*list) : error_response(list.error());
    }
    if (r.method == "POST") {
      label = "POST /v1/networks";
      auto request = parse_network_request(r.body);
      if (!request) return error_response(request.error(), 400);
      auto created = networks_->create(*request);
      return created ? ok(*created, 201) : error_response(created.error());
    }
    return not_allowed();
  }
  if (parts.size() != 3) return error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)));
  const std::string& name = parts[2];
  if (auto valid = validate_name(name); !valid) return error_response(valid.error(), 400);
  if (r.method == "GET") {
    label = "GET /v1/networks/{name}";
    auto j = networks_->inspect(name);
    return j ? ok(*j) : error_response(j.error());
  }
  if (r.method == "DELETE") {
    label = "DELETE /v1/networks/{name}";
    auto removed = networks_->remove(name);
    return removed ? http::Response::no_content() : error_response(removed.error());
  }
  return not_allowed();
}

}  // namespace vessel::daemon
