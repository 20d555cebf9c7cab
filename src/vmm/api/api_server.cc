#include "vmm/api/api_server.h"

#include "base/log.h"
#include "vmm/api/balloon_request.h"
#include "vmm/api/migration_request.h"

namespace vessel::vmm {

using json::Json;

http::Response fault(int status, const std::string& message) {
  return http::Response::json(status, json::dump(Json{{"fault_message", message}}));
}

namespace {
Result<Json> body_json(const http::Request& r) {
  if (r.body.empty()) return fail(EINVAL, "request body is empty (expected JSON)");
  return json::parse(r.body, 64 << 10, 16);
}

// One parser per resource: the request's body (and path) to its typed action.
Result<VmmAction> parse_machine_config_request(const http::Request& r) {
  if (r.method == "GET") return action::GetMachineConfig{};
  Json j = TRY(body_json(r));
  if (r.method == "PUT" && (!j.is_object() || !j.contains("vcpu_count") || !j.contains("mem_size_mib")))
    return fail(EINVAL, "machine-config: PUT needs vcpu_count and mem_size_mib");
  MachineConfig m = TRY(parse_machine_config(j, MachineConfig{}));
  action::SetMachineConfig set;
  if (j.contains("vcpu_count")) set.vcpu_count = m.vcpu_count;
  if (j.contains("mem_size_mib")) set.mem_size_mib = m.mem_size_mib;
  if (j.contains("track_dirty_pages")) set.track_dirty_pages = m.track_dirty_pages;
  if (j.contains("huge_pages")) set.huge_pages = m.huge_pages;
  if (j.contains("ksm")) set.ksm = m.ksm;
  return set;
}

Result<VmmAction> parse_boot_source_request(const http::Request& r) {
  return action::SetBootSource{TRY(parse_boot_source(TRY(body_json(r))))};
}

Result<VmmAction> parse_vsock_request(const http::Request& r) {
  return action::PutVsock{TRY(parse_vsock(TRY(body_json(r))))};
}

Result<VmmAction> parse_watchdog_request(const http::Request& r) {
  if (r.method == "GET") return action::GetWatchdog{};
  return action::PutWatchdog{TRY(parse_watchdog(TRY(body_json(r))))};
}

// PATCH bodies (Firecracker's PartialDriveConfig / PartialNetworkInterfaceConfig): the id, and
// the limiters to change.
Result<std::optional<RateLimiterPatch>> limiter_patch(const Json& j, std::string_view where, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::optional<RateLimiterPatch>();
  return std::optional<RateLimiterPatch>(TRY(parse_rate_limiter_patch(j[key], fmt::format("{}.{}", where, key))));
}

Result<VmmAction> parse_drive_patch(const http::Request& r, const std::string& id) {
  Json j = TRY(body_json(r));
  if (!j.is_object()) return fail(EINVAL, "drive: expected an object");
  TRY(json::reject_unknown(j, "drive", {"drive_id", "path_on_host", "rate_limiter", "backing_files"}));
  std::string body_id = TRY(json::get_string(j, "drive", "drive_id"));
  if (body_id != id) return fail(EINVAL, "drive_id '{}' does not match the path's '{}'", body_id, id);
  if (j.contains("path_on_host"))
    return fail(ENOTSUP, "drive.path_on_host: changing a running VM's disk is not supported (only rate_limiter, backing_files)");
  action::PatchDrive patch{id, TRY(limiter_patch(j, "drive", "rate_limiter")), std::nullopt};
  if (j.contains("backing_files")) patch.backing_files = TRY(parse_backing_files(j["backing_files"], "drive"));
  return patch;
}

Result<VmmAction> parse_network_interface_request(const http::Request& r) {
  std::string id = r.path.substr(std::string_view("/network-interfaces/").size());
  Json j = TRY(body_json(r));
  if (r.method == "PATCH") {
    if (!j.is_object()) return fail(EINVAL, "network-interface: expected an object");
    TRY(json::reject_unknown(j, "network-interface", {"iface_id", "rx_rate_limiter", "tx_rate_limiter"}));
    std::string body_id = TRY(json::get_string(j, "network-interface", "iface_id"));
    if (body_id != id) return fail(EINVAL, "iface_id '{}' does not match the path's '{}'", body_id, id);
    return action::PatchNetworkInterface{id, TRY(limiter_patch(j, "network-interface", "rx_rate_limiter")),
                                         TRY(limiter_patch(j, "network-interface", "tx_rate_limiter"))};
  }
  NetworkInterfaceConfig n = TRY(parse_network_interface(j, "network-interface"));
  if (n.iface_id != id) return fail(EINVAL, "iface_id '{}' does not match the path's '{}'", n.iface_id, id);
  return action::PutNetworkInterface{std::move(n)};
}

Result<VmmAction> parse_drive_request(const http::Request& r) {
  std::string id = r.path.substr(std::string_view("/drives/").size());
  if (r.method == "PATCH") return parse_drive_patch(r, id);
  DriveConfig d = TRY(parse_drive(TRY(body_json(r)), "drive"));
  if (d.drive_id != id) return fail(EINVAL, "drive_id '{}' does not match the path's '{}'", d.drive_id, id);
  return action::PutDrive{std::move(d)};
}

// Fields of a small {"name": "value"} request body (PUT /actions, PATCH /vm).
Result<std::string> one_string_field(const http::Request& r, std::string_view where, const char* key) {
  Json j = TRY(body_json(r));
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object", where);
  TRY(json::reject_unknown(j, where, {key}));
  return json::get_string(j, where, key);
}

Result<VmmAction> parse_actions_request(const http::Request& r) {
  std::string type = TRY(one_string_field(r, "actions", "action_type"));
  if (type == "InstanceStart") return action::InstanceStart{};
  if (type == "SendCtrlAltDel") return action::SendCtrlAltDel{};
  if (type == "FlushMetrics") return action::FlushMetrics{};
  return fail(EINVAL, "actions.action_type: unknown action '{}' (InstanceStart, SendCtrlAltDel, FlushMetrics)", type);
}

Result<VmmAction> parse_vm_request(const http::Request& r) {
  std::string state = TRY(one_string_field(r, "vm", "state"));
  if (state == "Paused" || state == "Resumed") return action::SetVmState{state == "Paused"};
  return fail(EINVAL, "vm.state: '{}' is not Paused or Resumed", state);
}

// PUT /snapshot/create and /snapshot/load, in Firecracker's shapes.
Result<VmmAction> parse_snapshot_create_request(const http::Request& r) {
  Json j = TRY(body_json(r));
  if (!j.is_object()) return fail(EINVAL, "snapshot/create: expected an object");
  TRY(json::reject_unknown(j, "snapshot/create", {"snapshot_type", "snapshot_path", "mem_file_path"}));
  action::CreateSnapshot c;
  if (j.contains("snapshot_type")) {
    std::string type = TRY(json::get_string(j, "snapshot/create", "snapshot_type"));
    if (type != "Full" && type != "Diff") return fail(EINVAL, "snapshot/create: snapshot_type '{}' is not Full or Diff", type);
    c.diff = type == "Diff";
  }
  c.snapshot_path = TRY(json::get_string(j, "snapshot/create", "snapshot_path"));
  c.mem_file_path = TRY(json::get_string(j, "snapshot/create", "mem_file_path"));
  if (c.snapshot_path.empty() || c.mem_file_path.empty())
    return fail(EINVAL, "snapshot/create: snapshot_path and mem_file_path must not be empty");
  if (c.snapshot_path == c.mem_file_path) return fail(EINVAL, "snapshot/create: snapshot_path and mem_file_path are the same file");
  return c;
}

Result<VmmAction> parse_snapshot_load_request(const http::Request& r) {
  Json j = TRY(body_json(r));
  if (!j.is_object()) return fail(EINVAL, "snapshot/load: expected an object");
  TRY(json::reject_unknown(j, "snapshot/load",
                           {"snapshot_path", "mem_backend", "mem_file_path", "enable_diff_snapshots", "resume_vm"}));
  action::LoadSnapshot l;
  l.snapshot_path = TRY(json::get_string(j, "snapshot/load", "snapshot_path"));
  if (j.contains("mem_backend") == j.contains("mem_file_path"))
    return fail(EINVAL, "snapshot/load: give exactly one of mem_backend and mem_file_path");
  if (j.contains("mem_file_path")) {
    l.mem_file_path = TRY(json::get_string(j, "snapshot/load", "mem_file_path"));
  } else {
    const Json& b = j["mem_backend"];
    if (!b.is_object()) return fail(EINVAL, "snapshot/load.mem_backend: expected an object");
    TRY(json::reject_unknown(b, "snapshot/load.mem_backend", {"backend_type", "backend_path"}));
    std::string type = TRY(json::get_string(b, "snapshot/load.mem_backend", "backend_type"));
    if (type != "File" && type != "Uffd") return fail(EINVAL, "snapshot/load.mem_backend: backend_type '{}' is not File or Uffd", type);
    l.mem_file_path = TRY(json::get_string(b, "snapshot/load.mem_backend", "backend_path"));
    l.uffd = type == "Uffd";
  }
  if (j.contains("enable_diff_snapshots")) {
    if (!j["enable_diff_snapshots"].is_boolean()) return fail(EINVAL, "snapshot/load.enable_diff_snapshots: expected a boolean");
    l.enable_diff_snapshots = j["enable_diff_snapshots"].get<bool>();
  }
  if (j.contains("resume_vm")) {
    if (!j["resume_vm"].is_boolean()) return fail(EINVAL, "snapshot/load.resume_vm: expected a boolean");
    l.resume_vm = j["resume_vm"].get<bool>();
  }
  if (l.snapshot_path.empty() || l.mem_file_path.empty())
    return fail(EINVAL, "snapshot/load: snapshot_path and the memory file's path must not be empty");
  return l;
}

struct Route {
  std::string_view path;  // a prefix when it ends with '/'
  std::string_view methods;
  const char* wrong_method;  // the 405 message
  Result<VmmAction> (*parse)(const http::Request&);
};

template <typename Action>
Result<VmmAction> just(const http::Request&) {
  return Action{};
}

constexpr Route kRoutes[] = {
    {"/", "GET", "use GET on /", just<action::GetInstanceInfo>},
    {"/machine-config", "GET PUT PATCH", "use GET, PUT or PATCH on /machine-config", parse_machine_config_request},
    {"/boot-source", "PUT", "use PUT on /boot-source", parse_boot_source_request},
    {"/drives/", "PUT PATCH", "use PUT (before start) or PATCH (rate_limiter) on /drives/{id}", parse_drive_request},
    {"/network-interfaces/", "PUT PATCH", "use PUT (before start) or PATCH (rate limiters) on /network-interfaces/{id}",
     parse_network_interface_request},
    {"/entropy", "PUT", "use PUT on /entropy", just<action::EnableEntropy>},
    {"/vsock", "PUT", "use PUT on /vsock", parse_vsock_request},
    {"/actions", "PUT", "use PUT on /actions", parse_actions_request},
    {"/vm", "PATCH", "use PATCH on /vm", parse_vm_request},
    {"/vm/config", "GET", "use GET on /vm/config", just<action::GetVmConfig>},
    {"/metrics", "GET", "use GET on /metrics", just<action::GetMetrics>},
    {"/snapshot/create", "PUT", "use PUT on /snapshot/create", parse_snapshot_create_request},
    {"/snapshot/load", "PUT", "use PUT on /snapshot/load", parse_snapshot_load_request},
    {"/migration/send", "PUT", "use PUT on /migration/send", parse_migration_send_request},
    {"/migration/receive", "PUT", "use PUT on /migration/receive", parse_migration_receive_request},
    {"/balloon", "GET PUT PATCH", "use GET, PUT (before start) or PATCH on /balloon", parse_balloon_request},
    {"/balloon/statistics", "GET PATCH", "use GET or PATCH on /balloon/statistics", parse_balloon_statistics_request},
    {"/watchdog", "GET PUT", "use GET, or PUT before start, on /watchdog", parse_watchdog_request},
};

const Route* find_route(const std::string& path) {
  for (const Route& route : kRoutes) {
    bool prefix = route.path.size() > 1 && route.path.back() == '/';
    if (prefix ? path.starts_with(route.path) : path == route.path) return &route;
  }
  return nullptr;
}

bool allows(const Route& route, const std::string& method) {
  for (size_t pos = 0; pos < route.methods.size();) {
    size_t end = std::min(route.methods.find(' ', pos), route.methods.size());
    if (route.methods.substr(pos, end - pos) == method) return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

http::Response ApiController::handle(const http::Request& request) const {
  http::Response resp = dispatch(request);
  log::debug("api: {} {} -> {}", request.method, request.path, resp.status);
  return resp;
}

http::Response ApiController::dispatch(const http::Request& r) const {
  if (r.path == "/version") {  // answered here: it depends on no VM state
    if (r.method != "GET") return fault(405, "use GET on /version");
    return http::Response::json(200, Json{{"firecracker_version", kVmmVersion}, {"vessel_version", kVmmVersion}}.dump());
  }
  const Route* route = find_route(r.path);
  if (!route) return fault(404, fmt::format("no such resource: {}", r.path));
  if (!allows(*route, r.method)) return fault(405, route->wrong_method);
  auto action = route->parse(r);
  if (!action) return fault(400, action.error().to_string());
  VmmReply reply = send_(std::move(*action));
  if (!reply) return fault(400, reply.error().to_string());
  if (!*reply) return http::Response::no_content();
  return http::Response::json(200, json::dump(**reply));
}

}  // namespace vessel::vmm
