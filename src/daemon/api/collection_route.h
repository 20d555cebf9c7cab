// The routes of a named collection, /v1/<kind> and /v1/<kind>/{name} (networks, pools): list
// (GET), create (POST), inspect (GET), change (PATCH) and remove (DELETE), with one set of labels,
// status codes and refusals for all of them.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "http/http.h"

namespace vessel::daemon {

struct Collection {
  std::string_view kind;  // "networks": the path's second part, and the labels'
  std::function<Result<json::Json>()> list;
  std::function<Result<json::Json>(const std::string& body)> create;  // parses the body first
  std::function<Result<json::Json>(const std::string& name)> inspect;
  std::function<Result<json::Json>(const std::string& name, const json::Json& body)> update;  // unset: no PATCH
  std::function<Result<void>(const std::string& name)> remove;
};

// `parts` is the path split at '/' ("v1", kind[, name]); errors map to their status as
// Api::error_response maps them (EINVAL 400, ENOENT 404, EEXIST/EBUSY 409...), a method the
// collection has not 405.
http::Response collection_route(const http::Request& r, const std::vector<std::string>& parts, std::string& label,
                                const Collection& c);

}  // namespace vessel::daemon
