#include "vmm/api/migration_request.h"

namespace vessel::vmm {
namespace {

using json::Json;

Result<Json> object_body(const http::Request& r, std::string_view where) {
  if (r.body.empty()) return fail(EINVAL, "{}: request body is empty (expected JSON)", where);
  Json j = TRY(json::parse(r.body, 64 << 10, 16));
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object", where);
  return j;
}

Result<std::string> url_field(const Json& j, std::string_view where, const char* key) {
  std::string url = TRY(json::get_string(j, where, key));
  if (!url.starts_with("unix:") && !url.starts_with("tcp:"))
    return fail(EINVAL, "{}.{}: '{}' is not unix:PATH or tcp:ADDRESS:PORT", where, key, url);
  return url;
}

Result<uint32_t> bounded(const Json& j, std::string_view where, const char* key, uint64_t min, uint64_t max) {
  uint64_t v = TRY(json::get_uint(j, where, key));
  if (v < min || v > max) return fail(EINVAL, "{}.{}: {} is not {} to {}", where, key, v, min, max);
  return static_cast<uint32_t>(v);
}

// "token": 64 hex digits (migration/token.h), optional.
Result<std::optional<migration::Token>> token_field(const Json& j, std::string_view where) {
  if (!j.contains("token")) return std::nullopt;
  std::string hex = TRY(json::get_string(j, where, "token"));
  return TRY_CTX(migration::parse_token_hex(hex), "{}.token", where);
}

}  // namespace

Result<VmmAction> parse_migration_send_request(const http::Request& r) {
  constexpr std::string_view where = "migration/send";
  Json j = TRY(object_body(r, where));
  TRY(json::reject_unknown(j, where, {"destination_url", "downtime_ms", "max_rounds", "token"}));
  action::SendMigration s;
  s.destination_url = TRY(url_field(j, where, "destination_url"));
  if (j.contains("downtime_ms")) s.downtime_ms = TRY(bounded(j, where, "downtime_ms", 1, 60'000));
  if (j.contains("max_rounds")) s.max_rounds = TRY(bounded(j, where, "max_rounds", 0, 1000));
  s.token = TRY(token_field(j, where));
  return s;
}

Result<VmmAction> parse_migration_receive_request(const http::Request& r) {
  constexpr std::string_view where = "migration/receive";
  Json j = TRY(object_body(r, where));
  TRY(json::reject_unknown(j, where, {"receiver_url", "token"}));
  return action::ReceiveMigration{TRY(url_field(j, where, "receiver_url")), TRY(token_field(j, where))};
}

}  // namespace vessel::vmm
