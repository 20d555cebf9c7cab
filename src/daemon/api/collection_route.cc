#include "daemon/api/collection_route.h"

#include "daemon/spec/spec.h"
#include "daemon/api/router.h"

namespace vessel::daemon {

namespace {

http::Response whole(const http::Request& r, std::string& label, const Collection& c) {
  if (r.method == "GET") {
    label = fmt::format("GET /v1/{}", c.kind);
    return Api::answer(c.list());
  }
  if (r.method == "POST") {
    label = fmt::format("POST /v1/{}", c.kind);
    return Api::answer(c.create(r.body), 201);
  }
  return Api::error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405);
}

http::Response one(const http::Request& r, const std::string& name, std::string& label, const Collection& c) {
  if (r.method == "GET") {
    label = fmt::format("GET /v1/{}/{{name}}", c.kind);
    return Api::answer(c.inspect(name));
  }
  if (r.method == "PATCH" && c.update) {
    label = fmt::format("PATCH /v1/{}/{{name}}", c.kind);
    auto body = json::parse(r.body, 1 << 16);
    if (!body) return Api::error_response(body.error(), 400);
    return Api::answer(c.update(name, *body));
  }
  if (r.method == "DELETE") {
    label = fmt::format("DELETE /v1/{}/{{name}}", c.kind);
    auto removed = c.remove(name);
    return removed ? http::Response::no_content() : Api::error_response(removed.error());
  }
  return Api::error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405);
}

}  // namespace

http::Response collection_route(const http::Request& r, const std::vector<std::string>& parts, std::string& label,
                                const Collection& c) {
  if (parts.size() == 2) return whole(r, label, c);
  if (parts.size() != 3) return Api::error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)));
  if (auto valid = validate_name(parts[2]); !valid) return Api::error_response(valid.error(), 400);
  return one(r, parts[2], label, c);
}

}  // namespace vessel::daemon
