// The live-migration endpoints (docs/daemon/migrate.md):
//   POST /v1/instances/{name}/migrate {"destination", "downtime_ms", "max_rounds"} (the source;
//        ?progress=1: JSON lines of its steps, then {"result": ...} or {"error": ...})
//   POST /v1/migrations {"spec": ..., "receive_on"}  (the destination: receive an instance)
//   POST /v1/migrations/{name}/commit | /abort     (the destination: it runs here, or it goes)
#include "daemon/api/progress_stream.h"
#include "daemon/api/router.h"
#include "daemon/instances/migrate_request.h"

namespace vessel::daemon {

http::Response Api::migrate(const http::Request& r, Role role, const std::string& name) {
  if (r.method != "POST")
    return error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405);
  auto req = parse_migrate_request(r.body);
  if (!req) return error_response(req.error(), 400);
  // vesseld connects to that socket as root: a host path under the host path policy.
  if (req->destination.kind == Destination::Kind::Vesseld) {
    auto path = host_paths_.admit(req->destination.socket, role, "migrate.destination");
    if (!path) return error_response(path.error());
    req->destination.socket = *path;
  }
  if (!r.query_flag("progress")) {
    auto result = manager_.migrate(name, *req);
    return result ? ok(*result) : error_response(result.error());
  }
  // Streamed, as an image import: the migration runs on its own thread.
  return progress_stream(
      [this, name, req = *req](const PushStep& push) { return manager_.migrate(name, req, push); },
      fmt::format("the migration of {}", name));
}

http::Response Api::migration_route(const http::Request& r, Role role, const std::vector<std::string>& parts,
                                    std::string& label) {
  if (r.method != "POST")
    return error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405);
  if (parts.size() == 2) {
    label = "POST /v1/migrations";
    auto incoming = parse_incoming_request(r.body);
    if (!incoming) return error_response(incoming.error(), incoming.error().errnum() == ENOTSUP ? 501 : 400);
    if (auto allowed = host_paths_.admit(incoming->spec, role); !allowed) return error_response(allowed.error());
    auto received = manager_.receive(*incoming, r.client_cert_sha256);
    return received ? ok(*received, 201) : error_response(received.error());
  }
  if (parts.size() == 4 && (parts[3] == "commit" || parts[3] == "abort")) {
    label = "POST /v1/migrations/{name}/" + parts[3];
    if (auto valid = validate_name(parts[2]); !valid) return error_response(valid.error(), 400);
    if (!r.body.empty() && r.body != "{}") return error_response(Error(EINVAL, fmt::format("{} takes no body", parts[3])), 400);
    auto done = manager_.finish_incoming(parts[2], parts[3] == "commit");
    return done ? ok(*done) : error_response(done.error());
  }
  return error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)));
}

}  // namespace vessel::daemon
