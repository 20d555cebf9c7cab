#include "daemon/api/snapshot_request.h"

#include "base/json.h"
#include "daemon/instances/snapshot_meta.h"

namespace vessel::daemon {

Result<SnapshotRequest> parse_snapshot_request(const std::string& body) {
  SnapshotRequest out;
  if (body.empty()) return out;
  auto j = TRY(json::parse(body, 64 << 10, 8));
  if (!j.is_object()) return fail(EINVAL, "snapshot: expected an object");
  TRY(json::reject_unknown(j, "snapshot", {"name", "memory"}));
  if (j.contains("name")) {
    out.name = TRY(json::get_string(j, "snapshot", "name"));
    TRY(check_snapshot_name(out.name));
  }
  if (j.contains("memory")) {
    if (!j["memory"].is_boolean()) return fail(EINVAL, "snapshot.memory: expected a boolean");
    out.memory = j["memory"].get<bool>();
  }
  return out;
}

}  // namespace vessel::daemon
