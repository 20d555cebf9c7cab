#include "daemon/spec/restart_spec.h"

#include <charconv>

namespace vessel::daemon {

namespace {

constexpr uint64_t kMinIntervalMs = 1;           // Docker refuses below 1 ms as well
constexpr uint64_t kMaxDurationMs = 24ull * 3600 * 1000;
constexpr uint32_t kMaxRetries = 1000;
constexpr size_t kMaxTestArgs = 256;
constexpr size_t kMaxArgBytes = 4096;

Result<uint64_t> duration_ms(const json::Json& j, std::string_view where, const char* key, uint64_t lo, uint64_t dflt) {
  auto v = TRY(json::opt_uint(j, where, key));
  if (!v) return dflt;
  if (*v < lo || *v > kMaxDurationMs) return fail(EINVAL, "{}.{}: {} is outside {}..{} ms", where, key, *v, lo, kMaxDurationMs);
  return *v;
}

}  // namespace

Result<RestartPolicy> parse_restart_policy(std::string_view text) {
  auto colon = text.find(':');
  std::string_view name = text.substr(0, colon);
  RestartPolicy p;
  if (name == "no" || name.empty()) p.mode = RestartMode::No;
  else if (name == "on-failure") p.mode = RestartMode::OnFailure;
  else if (name == "always") p.mode = RestartMode::Always;
  else if (name == "unless-stopped") p.mode = RestartMode::UnlessStopped;
  else
    return Unexpected(Error(EINVAL, fmt::format("restart policy '{}' is unknown", text.substr(0, 64)))
                          .with_hint("use no, on-failure[:N], always or unless-stopped"));
  if (colon == std::string_view::npos) return p;
  if (p.mode != RestartMode::OnFailure)
    return fail(EINVAL, "restart policy '{}': only on-failure takes a retry count", text.substr(0, 64));
  std::string_view count = text.substr(colon + 1);
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
  if (count.empty() || ec != std::errc() || end != count.data() + count.size() || n > kMaxRestartRetries)
    return fail(EINVAL, "restart policy '{}': the retry count must be a number 0..{}", text.substr(0, 64), kMaxRestartRetries);
  p.max_retries = n;
  return p;
}

std::string to_string(const RestartPolicy& p) {
  switch (p.mode) {
    case RestartMode::No: return "no";
    case RestartMode::OnFailure: return p.max_retries ? fmt::format("on-failure:{}", p.max_retries) : "on-failure";
    case RestartMode::Always: return "always";
    case RestartMode::UnlessStopped: return "unless-stopped";
  }
  return "no";
}

Result<HealthcheckSpec> parse_healthcheck(const json::Json& j, std::string_view where) {
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, json::type_name(j));
  TRY(json::reject_unknown(j, where, {"test", "interval_ms", "timeout_ms", "start_period_ms", "retries"}));
  HealthcheckSpec h;
  if (!j.contains("test") || !j["test"].is_array() || j["test"].empty())
    return fail(EINVAL, "{}.test: expected a non-empty array of strings (the command)", where);
  const auto& test = j["test"];
  if (test.size() > kMaxTestArgs) return fail(EINVAL, "{}.test: more than {} arguments", where, kMaxTestArgs);
  for (size_t i = 0; i < test.size(); ++i) {
    if (!test[i].is_string()) return fail(EINVAL, "{}.test[{}]: expected a string", where, i);
    auto arg = test[i].get<std::string>();
    if (arg.size() > kMaxArgBytes || arg.find('\0') != std::string::npos)
      return fail(EINVAL, "{}.test[{}]: longer than {} bytes or contains a NUL byte", where, i, kMaxArgBytes);
    h.test.push_back(std::move(arg));
  }
  h.interval_ms = TRY(duration_ms(j, where, "interval_ms", kMinIntervalMs, h.interval_ms));
  h.timeout_ms = TRY(duration_ms(j, where, "timeout_ms", kMinIntervalMs, h.timeout_ms));
  h.start_period_ms = TRY(duration_ms(j, where, "start_period_ms", 0, h.start_period_ms));
  auto retries = TRY(json::opt_uint(j, where, "retries"));
  if (retries && (*retries < 1 || *retries > kMaxRetries))
    return fail(EINVAL, "{}.retries: {} is outside 1..{}", where, *retries, kMaxRetries);
  if (retries) h.retries = static_cast<uint32_t>(*retries);
  return h;
}

json::Json to_json(const HealthcheckSpec& h) {
  return {{"test", h.test}, {"interval_ms", h.interval_ms}, {"timeout_ms", h.timeout_ms},
          {"start_period_ms", h.start_period_ms}, {"retries", h.retries}};
}

}  // namespace vessel::daemon
