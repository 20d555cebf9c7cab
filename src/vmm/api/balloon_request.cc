#include "vmm/api/balloon_request.h"

namespace vessel::vmm {
namespace {

Result<json::Json> body(const http::Request& r) {
  if (r.body.empty()) return fail(EINVAL, "request body is empty (expected JSON)");
  return json::parse(r.body, 64 << 10, 16);
}

}  // namespace

Result<VmmAction> parse_balloon_request(const http::Request& r) {
  if (r.method == "GET") return action::GetBalloon{};
  json::Json j = TRY(body(r));
  if (r.method == "PATCH") return action::PatchBalloon{TRY(parse_balloon_update(j))};
  return action::PutBalloon{TRY(parse_balloon(j))};
}

Result<VmmAction> parse_balloon_statistics_request(const http::Request& r) {
  if (r.method == "GET") return action::GetBalloonStats{};
  return action::PatchBalloonStats{TRY(parse_balloon_stats_update(TRY(body(r))))};
}

}  // namespace vessel::vmm
