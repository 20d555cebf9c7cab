#include "daemon/instances/vm_balloon.h"

#include "daemon/instances/vm_backend.h"

namespace vessel::daemon {

namespace {

// The controller asks every period: a VMM that does not answer within 2 s is skipped this time.
constexpr std::chrono::milliseconds kBalloonTimeout{2000};

std::optional<uint64_t> field(const json::Json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number_unsigned()) return std::nullopt;
  return j[key].get<uint64_t>();
}

}  // namespace

vmm::BalloonConfig balloon_config(const BalloonSpec& spec) {
  vmm::BalloonConfig c;
  c.amount_mib = 0;
  c.deflate_on_oom = spec.deflate_on_oom;
  c.stats_polling_interval_s = spec.stats_interval_s;
  c.free_page_reporting = spec.free_page_reporting;
  return c;
}

Result<BalloonReading> read_balloon(const std::string& instance_dir) {
  auto body = vmm_api(instance_dir, "GET", "/balloon/statistics", nullptr, kBalloonTimeout);
  if (!body) body = TRY(vmm_api(instance_dir, "GET", "/balloon", nullptr, kBalloonTimeout));
  auto j = TRY_CTX(json::parse(*body), "GET /balloon");
  if (!j.is_object()) return fail(EIO, "GET /balloon: not an object");
  BalloonReading b;
  b.target_mib = field(j, "target_mib").value_or(field(j, "amount_mib").value_or(0));
  b.actual_mib = field(j, "actual_mib").value_or(0);
  b.total_memory = field(j, "total_memory");
  b.available_memory = field(j, "available_memory");
  b.free_memory = field(j, "free_memory");
  return b;
}

Result<void> set_balloon_target(const std::string& instance_dir, uint64_t mib) {
  TRY(vmm_api(instance_dir, "PATCH", "/balloon", {{"amount_mib", mib}}, kBalloonTimeout));
  return {};
}

json::Json to_json(const BalloonReading& b) {
  json::Json j = {{"target_mib", b.target_mib}, {"actual_mib", b.actual_mib}};
  if (b.total_memory) j["guest_total_bytes"] = *b.total_memory;
  if (b.available_memory) j["guest_available_bytes"] = *b.available_memory;
  if (b.free_memory) j["guest_free_bytes"] = *b.free_memory;
  return j;
}

}  // namespace vessel::daemon
