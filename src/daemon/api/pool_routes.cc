// /v1/pools (docs/daemon/api.yaml, docs/daemon/pools.md): create, list, inspect, change, remove.
#include "daemon/api/router.h"
#include "daemon/policy/pool_spec.h"

namespace vessel::daemon {

namespace {

http::Response ok(const json::Json& j, int status = 200) { return http::Response::json(status, json::dump(j) + "\n"); }

}  // namespace

http::Response Api::pool_route(const http::Request& r, const std::vector<std::string>& parts, std::string& label) {
  if (!pools_) return error_response(Error(ENOENT, "this vesseld has no pools"));
  auto not_allowed = [&] {
    return error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405);
  };
  if (parts.size() == 2) {
    if (r.method == "GET") {
      label = "GET /v1/pools";
      auto list = pools_->list();
      return list ? ok(*list) : error_response(list.error());
    }
    if (r.method == "POST") {
      label = "POST /v1/pools";
      auto spec = parse_pool_spec_text(r.body);
      if (!spec) return error_response(spec.error(), 400);
      auto created = pools_->create(*spec);
      return created ? ok(*created, 201) : error_response(created.error());
    }
    return not_allowed();
  }
  if (parts.size() != 3) return error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)));
  const std::string& name = parts[2];
  if (auto valid = validate_name(name); !valid) return error_response(valid.error(), 400);
  if (r.method == "GET") {
    label = "GET /v1/pools/{name}";
    auto j = pools_->inspect(name);
    return j ? ok(*j) : error_response(j.error());
  }
  if (r.method == "PATCH") {
    label = "PATCH /v1/pools/{name}";
    auto body = json::parse(r.body, 1 << 16);
    if (!body) return error_response(body.error(), 400);
    auto updated = pools_->update(name, *body);
    if (!updated && updated.error().errnum() == EINVAL) return error_response(updated.error(), 400);
    return updated ? ok(*updated) : error_response(updated.error());
  }
  if (r.method == "DELETE") {
    label = "DELETE /v1/pools/{name}";
    auto removed = pools_->remove(name);
    return removed ? http::Response::no_content() : error_response(removed.error());
  }
  return not_allowed();
}

}  // namespace vessel::daemon
