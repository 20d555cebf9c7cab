// One request to the API object, as the HTTP server would hand it over, and its JSON body.
#pragma once

#include <map>
#include <string>

#include "base/json.h"
#include "daemon/api/router.h"

namespace vessel::daemon {

inline http::Response api_call(Api& api, const std::string& method, const std::string& path, const std::string& body = "",
                               std::map<std::string, std::string> query = {}) {
  http::Request r;
  r.method = method;
  r.path = path;
  r.body = body;
  r.query = std::move(query);
  return api.handle(r);
}

inline json::Json body_of(const http::Response& r) { return json::parse(r.body).value_or(json::Json()); }

}  // namespace vessel::daemon
