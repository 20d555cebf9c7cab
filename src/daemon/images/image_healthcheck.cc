#include "daemon/images/image_healthcheck.h"

namespace vessel::daemon {

namespace {

// Nanoseconds -> the spec's milliseconds (0 or absent: the default stays out).
Result<void> duration(const json::Json& j, std::string_view where, const char* key, const char* to, json::Json& out) {
  if (!j.contains(key) || j[key].is_null()) return {};
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0)
    return fail(EINVAL, "{}.{}: expected a non-negative number of nanoseconds", where, key);
  auto ms = static_cast<uint64_t>(j[key].get<int64_t>()) / 1000000;
  if (ms > 0) out[to] = ms;
  return {};
}

}  // namespace

Result<std::optional<HealthcheckSpec>> parse_image_healthcheck(const json::Json& j, std::string_view where) {
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, json::type_name(j));
  if (!j.contains("Test") || j["Test"].is_null()) return std::optional<HealthcheckSpec>();
  const auto& test = j["Test"];
  if (!test.is_array()) return fail(EINVAL, "{}.Test: expected an array of strings", where);
  for (const auto& t : test)
    if (!t.is_string()) return fail(EINVAL, "{}.Test: expected an array of strings", where);
  if (test.empty() || test[0] == "NONE") return std::optional<HealthcheckSpec>();
  json::Json spec = json::Json::object();
  std::string kind = test[0].get<std::string>();
  if (kind == "CMD") {
    spec["test"] = json::Json(std::vector<json::Json>(test.begin() + 1, test.end()));
  } else if (kind == "CMD-SHELL") {
    if (test.size() != 2) return fail(EINVAL, "{}.Test: CMD-SHELL takes one command string", where);
    spec["test"] = {"/bin/sh", "-c", test[1]};
  } else {
    return fail(EINVAL, "{}.Test: '{}' is none of CMD, CMD-SHELL, NONE", where, kind.substr(0, 32));
  }
  TRY(duration(j, where, "Interval", "interval_ms", spec));
  TRY(duration(j, where, "Timeout", "timeout_ms", spec));
  TRY(duration(j, where, "StartPeriod", "start_period_ms", spec));
  if (j.contains("Retries") && !j["Retries"].is_null()) {
    if (!j["Retries"].is_number_integer() || j["Retries"].get<int64_t>() < 0)
      return fail(EINVAL, "{}.Retries: expected a non-negative number", where);
    if (j["Retries"].get<int64_t>() > 0) spec["retries"] = static_cast<uint64_t>(j["Retries"].get<int64_t>());
  }
  return std::optional<HealthcheckSpec>(TRY(parse_healthcheck(spec, where)));  // the spec's bounds hold too
}

}  // namespace vessel::daemon
