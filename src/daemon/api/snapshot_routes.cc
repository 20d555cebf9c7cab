// /v1/instances/{name}/snapshots (docs/daemon/api.yaml, docs/daemon/snapshots.md): named
// snapshots of a VM.
//   GET    .../snapshots                   the list
//   POST   .../snapshots                   take one: {"name": "SNAP", "memory": bool}
//   GET    .../snapshots/{snap}            one
//   DELETE .../snapshots/{snap}            remove it
//   POST   .../snapshots/{snap}/restore    the VM goes back to it
#include "daemon/api/router.h"
#include "daemon/api/snapshot_request.h"
#include "daemon/instances/snapshot_meta.h"

namespace vessel::daemon {

http::Response Api::snapshot_route(const http::Request& r, const std::string& name, const std::vector<std::string>& parts,
                                   std::string& label) {
  auto not_allowed = [&] {
    return error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405);
  };
  if (parts.size() == 4) {
    if (r.method == "GET") {
      label = "GET /v1/instances/{name}/snapshots";
      auto list = manager_.snapshot_list(name);
      return list ? ok(*list) : error_response(list.error());
    }
    if (r.method == "POST") {
      label = "POST /v1/instances/{name}/snapshots";
      auto req = parse_snapshot_request(r.body);
      if (!req) return error_response(req.error(), 400);
      auto made = manager_.snapshot_create(name, req->name, req->memory);
      return made ? ok(*made, 201) : error_response(made.error());
    }
    return not_allowed();
  }
  const std::string& snap = parts[4];
  if (auto valid = check_snapshot_name(snap); !valid) return error_response(valid.error(), 400);
  if (parts.size() == 5) {
    if (r.method == "GET") {
      label = "GET /v1/instances/{name}/snapshots/{snap}";
      auto list = manager_.snapshot_list(name);
      if (!list) return error_response(list.error());
      for (const auto& s : *list)
        if (s.value("name", "") == snap) return ok(s);
      return error_response(Error(ENOENT, fmt::format("{} has no snapshot {}", name, snap)));
    }
    if (r.method == "DELETE") {
      label = "DELETE /v1/instances/{name}/snapshots/{snap}";
      auto removed = manager_.snapshot_remove(name, snap);
      return removed ? http::Response::no_content() : error_response(removed.error());
    }
    return not_allowed();
  }
  if (parts.size() == 6 && parts[5] == "restore") {
    label = "POST /v1/instances/{name}/snapshots/{snap}/restore";
    if (r.method != "POST") return not_allowed();
    if (!r.body.empty() && r.body != "{}") return error_response(Error(EINVAL, "restore takes no body"), 400);
    auto restored = manager_.snapshot_restore(name, snap);
    return restored ? ok(*restored) : error_response(restored.error());
  }
  return error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)));
}

}  // namespace vessel::daemon
