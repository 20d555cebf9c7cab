// POST /v1/policy/simulate[?policy=P] (docs/daemon/policy-simulate.md): a workload trace replayed
// through the pools' own allocation code; nothing on the host changes.
#include "daemon/api/router.h"
#include "daemon/policy/simulator.h"

namespace vessel::daemon {

http::Response Api::policy_route(const http::Request& r, const std::vector<std::string>& parts, std::string& label) {
  if (parts.size() != 3 || parts[2] != "simulate")
    return error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)));
  if (r.method != "POST") return error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405);
  label = "POST /v1/policy/simulate";
  auto trace = parse_trace(r.body);
  if (!trace) return error_response(trace.error(), 400);
  std::optional<PolicyKind> policy;
  if (auto it = r.query.find("policy"); it != r.query.end()) {
    policy = parse_policy(it->second);
    if (!policy)
      return error_response(Error(EINVAL, fmt::format("policy: '{}' is not one of {}", it->second, kPolicyNames)), 400);
  }
  auto report = simulate(*trace, policy);
  if (!report) return error_response(report.error());
  return http::Response::json(200, json::dump(to_json(*report)) + "\n");
}

}  // namespace vessel::daemon
