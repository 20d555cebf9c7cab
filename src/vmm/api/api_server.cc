#include "vmm/api/api_server.h"

#include "base/log.h"

namespace vessel::vmm {

using json::Json;

http::Response fault(int status, const std::string& message) {
  return http::Response::json(status, Json{{"fault_message", message}}.dump());
}

namespace {
constexpr const char* kVersion = "0.1.0";

Result<Json> body_json(const http::Request& r) {
  if (r.body.empty()) return fail(EINVAL, "request body is empty (expected JSON)");
  return json::parse(r.body, 64 << 10, 16);
}
}  // namespace

http::Response ApiController::handle(const http::Request& request) {
  http::Response resp = dispatch(request);
  log::debug("api: {} {} -> {}", request.method, request.path, resp.status);
  return resp;
}

Machine* ApiController::machine() {
  std::lock_guard lock(mu_);
  return machine_.get();
}

Machine* ApiController::wait_started() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return machine_ != nullptr; });
  return machine_.get();
}

Result<void> ApiController::start_instance() {
  std::lock_guard lock(mu_);
  if (machine_) return fail(EINVAL, "the instance is already started");
  auto m = TRY_CTX(Machine::create(config_, options_), "start the VM");
  TRY(m->start());
  machine_ = std::move(m);
  cv_.notify_all();
  return {};
}

http::Response ApiController::dispatch(const http::Request& r) {
  const std::string& p = r.path;
  bool started = machine() != nullptr;
  auto not_after_start = [&]() { return fault(400, "the VM is already running: this resource can only be set before InstanceStart"); };

  if (p == "/" ) {
    if (r.method != "GET") return fault(405, "use GET on /");
    std::string state = started ? to_string(machine()->state()) : "Not started";
    return http::Response::json(200, Json{{"id", "vessel-vmm"}, {"state", state}, {"vmm_version", kVersion},
                                          {"app_name", "vessel-vmm"}}.dump());
  }
  if (p == "/version") {
    if (r.method != "GET") return fault(405, "use GET on /version");
    return http::Response::json(200, Json{{"firecracker_version", kVersion}, {"vessel_version", kVersion}}.dump());
  }
  if (p == "/machine-config") {
    std::lock_guard lock(mu_);
    if (r.method == "GET") {
      const auto& m = config_.machine;
      return http::Response::json(200, Json{{"vcpu_count", m.vcpu_count}, {"mem_size_mib", m.mem_size_mib}, {"smt", m.smt}}.dump());
    }
    if (r.method != "PUT" && r.method != "PATCH") return fault(405, "use GET, PUT or PATCH on /machine-config");
    if (machine_) return not_after_start();
    auto j = body_json(r);
    if (!j) return fault(400, j.error().to_string());
    if (r.method == "PUT" && (!j->is_object() || !j->contains("vcpu_count") || !j->contains("mem_size_mib")))
      return fault(400, "machine-config: PUT needs vcpu_count and mem_size_mib");
    auto m = parse_machine_config(*j, r.method == "PUT" ? MachineConfig{} : config_.machine);
    if (!m) return fault(400, m.error().to_string());
    config_.machine = *m;
    return http::Response::no_content();
  }
  if (p == "/boot-source") {
    if (r.method != "PUT") return fault(405, "use PUT on /boot-source");
    std::lock_guard lock(mu_);
    if (machine_) return not_after_start();
    auto j = body_json(r);
    if (!j) return fault(400, j.error().to_string());
    auto b = parse_boot_source(*j);
    if (!b) return fault(400, b.error().to_string());
    config_.boot_source = *b;
    return http::Response::no_content();
  }
  if (p.rfind("/drives/", 0) == 0) {
    std::string id = p.substr(8);
    if (r.method != "PUT") return fault(405, "use PUT on /drives/{id} (PATCH after start is not supported)");
    std::lock_guard lock(mu_);
    if (machine_) return not_after_start();
    auto j = body_json(r);
    if (!j) return fault(400, j.error().to_string());
    auto d = parse_drive(*j, "drive");
    if (!d) return fault(400, d.error().to_string());
    if (d->drive_id != id) return fault(400, fmt::format("drive_id '{}' does not match the path's '{}'", d->drive_id, id));
    bool replaced = false;
    for (auto& existing : config_.drives)
      if (existing.drive_id == id) existing = *d, replaced = true;
    if (!replaced) {
      if (config_.drives.size() >= 16) return fault(400, "at most 16 drives are supported");
      config_.drives.push_back(*d);
    }
    return http::Response::no_content();
  }
  if (p == "/entropy") {
    if (r.method != "PUT") return fault(405, "use PUT on /entropy");
    std::lock_guard lock(mu_);
    if (machine_) return not_after_start();
    config_.entropy = true;
    return http::Response::no_content();
  }
  if (p == "/actions") {
    if (r.method != "PUT") return fault(405, "use PUT on /actions");
    auto j = body_json(r);
    if (!j) return fault(400, j.error().to_string());
    if (!j->is_object()) return fault(400, "actions: expected an object");
    if (auto unknown = json::reject_unknown(*j, "actions", {"action_type"}); !unknown) return fault(400, unknown.error().to_string());
    auto type = json::get_string(*j, "actions", "action_type");
    if (!type) return fault(400, type.error().to_string());
    if (*type == "InstanceStart") {
      auto s = start_instance();
      if (!s) return fault(400, s.error().to_string());
      return http::Response::no_content();
    }
    if (*type == "SendCtrlAltDel") {
      if (!started) return fault(400, "SendCtrlAltDel: the VM is not running");
      if (!on_ctrl_alt_del) return fault(400, "SendCtrlAltDel is not available");
      auto s = on_ctrl_alt_del();
      if (!s) return fault(400, s.error().to_string());
      return http::Response::no_content();
    }
    if (*type == "FlushMetrics") return http::Response::no_content();
    return fault(400, fmt::format("actions.action_type: unknown action '{}' (InstanceStart, SendCtrlAltDel, FlushMetrics)", *type));
  }
  if (p == "/vm") {
    if (r.method != "PATCH") return fault(405, "use PATCH on /vm");
    auto j = body_json(r);
    if (!j) return fault(400, j.error().to_string());
    if (!j->is_object()) return fault(400, "vm: expected an object");
    if (auto unknown = json::reject_unknown(*j, "vm", {"state"}); !unknown) return fault(400, unknown.error().to_string());
    auto state = json::get_string(*j, "vm", "state");
    if (!state) return fault(400, state.error().to_string());
    if (!started) return fault(400, "the VM is not started");
    Result<void> s;
    if (*state == "Paused") s = machine()->pause();
    else if (*state == "Resumed") s = machine()->resume();
    else return fault(400, fmt::format("vm.state: '{}' is not Paused or Resumed", *state));
    if (!s) return fault(400, s.error().to_string());
    return http::Response::no_content();
  }
  if (p == "/vm/config") {
    if (r.method != "GET") return fault(405, "use GET on /vm/config");
    std::lock_guard lock(mu_);
    return http::Response::json(200, config_.to_json().dump());
  }
  if (p == "/metrics") {  // vessel extension: live counters
    if (r.method != "GET") return fault(405, "use GET on /metrics");
    if (!started) return http::Response::json(200, Json{{"state", "Not started"}}.dump());
    return http::Response::json(200, machine()->metrics().dump());
  }
  return fault(404, fmt::format("no such resource: {}", p));
}

}  // namespace vessel::vmm
