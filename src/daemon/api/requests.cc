#include "daemon/api/requests.h"

#include "base/json.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {

namespace {

Result<json::Json> object(std::string_view body, std::string_view what) {
  auto j = TRY_CTX(json::parse(body, 1 << 20), "{}", what);
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", what, json::type_name(j));
  return j;
}

Result<std::string> path_field(const json::Json& j, std::string_view where, const char* key, bool required) {
  auto v = TRY(json::opt_string(j, where, key));
  if (!v) {
    if (required) return fail(EINVAL, "{}.{}: missing", where, key);
    return std::string();
  }
  if (v->empty() || (*v)[0] != '/' || v->size() > 4096 || v->find('\0') != std::string::npos)
    return fail(EINVAL, "{}.{}: '{}' is not an absolute path", where, key, v->substr(0, 200));
  return *v;
}

}  // namespace

Result<StopRequest> parse_stop_request(std::string_view body) {
  StopRequest r;
  if (body.empty()) return r;
  auto j = TRY(object(body, "stop request"));
  TRY(json::reject_unknown(j, "stop", {"timeout_s", "force"}));
  auto t = TRY(json::opt_uint(j, "stop", "timeout_s"));
  if (t && *t > 3600) return fail(EINVAL, "stop.timeout_s: {} is over 3600", *t);
  if (t) r.timeout_s = static_cast<uint32_t>(*t);
  r.force = TRY(json::opt_bool(j, "stop", "force")).value_or(false);
  if (r.force) r.timeout_s = 0;
  return r;
}

Result<CheckpointRequest> parse_checkpoint_request(std::string_view body) {
  CheckpointRequest r;
  if (body.empty()) return r;
  auto j = TRY(object(body, "checkpoint request"));
  TRY(json::reject_unknown(j, "checkpoint", {"leave_running", "export"}));
  r.leave_running = TRY(json::opt_bool(j, "checkpoint", "leave_running")).value_or(false);
  r.export_path = TRY(path_field(j, "checkpoint", "export", false));
  return r;
}

Result<RestoreRequest> parse_restore_request(std::string_view body) {
  RestoreRequest r;
  if (body.empty()) return r;
  auto j = TRY(object(body, "restore request"));
  TRY(json::reject_unknown(j, "restore", {"import"}));
  r.import_path = TRY(path_field(j, "restore", "import", false));
  return r;
}

Result<ExecRequest> parse_exec_request(std::string_view body) {
  auto j = TRY(object(body, "exec request"));
  TRY(json::reject_unknown(j, "exec", {"command"}));
  if (!j.contains("command") || !j["command"].is_array() || j["command"].empty())
    return fail(EINVAL, "exec.command: expected a non-empty array of strings");
  if (j["command"].size() > 256) return fail(EINVAL, "exec.command: more than 256 arguments");
  ExecRequest r;
  for (size_t i = 0; i < j["command"].size(); ++i) {
    const auto& a = j["command"][i];
    if (!a.is_string()) return fail(EINVAL, "exec.command[{}]: expected a string, got {}", i, json::type_name(a));
    auto s = a.get<std::string>();
    if (s.size() > 65536 || s.find('\0') != std::string::npos) return fail(EINVAL, "exec.command[{}]: invalid", i);
    r.command.push_back(std::move(s));
  }
  return r;
}

Result<ImageRequest> parse_image_request(std::string_view body) {
  auto j = TRY(object(body, "image request"));
  TRY(json::reject_unknown(j, "image", {"name", "type", "archive", "kernel", "initramfs", "cmdline", "disks"}));
  ImageRequest r;
  r.name = TRY(json::opt_string(j, "image", "name")).value_or("");
  r.type = TRY(json::opt_string(j, "image", "type")).value_or("container");
  // A container image may be named by a reference (busybox:1.36), or not at all: the archive's own.
  if (r.type == "container" && !r.name.empty()) TRY_CTX(validate_image_name(r.name), "image.name");
  if (r.type != "container" && !r.name.empty()) TRY_CTX(validate_name(r.name), "image.name");
  if (r.type == "container") {
    r.archive = TRY(path_field(j, "image", "archive", true));
    if (j.contains("kernel") || j.contains("initramfs") || j.contains("cmdline") || j.contains("disks"))
      return fail(EINVAL, "image: kernel/initramfs/cmdline/disks are for VM images");
  } else if (r.type == "vm") {
    r.kernel = TRY(path_field(j, "image", "kernel", true));
    r.initramfs = TRY(path_field(j, "image", "initramfs", false));
    r.cmdline = TRY(json::opt_string(j, "image", "cmdline")).value_or("");
    if (r.cmdline.size() > 4096) return fail(EINVAL, "image.cmdline: longer than 4096 bytes");
    if (j.contains("archive")) return fail(EINVAL, "image.archive: VM images take kernel and initramfs");
    if (j.contains("disks")) {
      const auto& d = j["disks"];
      if (!d.is_array()) return fail(EINVAL, "image.disks: expected an array, got {}", json::type_name(d));
      if (d.size() > 16) return fail(EINVAL, "image.disks: more than 16 disks");
      for (size_t i = 0; i < d.size(); ++i) {
        auto where = fmt::format("image.disks[{}]", i);
        if (!d[i].is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, json::type_name(d[i]));
        TRY(json::reject_unknown(d[i], where, {"path", "format"}));
        auto path = TRY(path_field(d[i], where, "path", true));
        auto format = TRY(json::opt_string(d[i], where, "format")).value_or("");
        if (!format.empty() && format != "raw" && format != "qcow2")
          return fail(EINVAL, "{}.format: '{}' is neither 'raw' nor 'qcow2'", where, format);
        r.disks.emplace_back(std::move(path), std::move(format));
      }
    }
  } else {
    return fail(EINVAL, "image.type: '{}' is neither 'container' nor 'vm'", r.type);
  }
  return r;
}

}  // namespace vessel::daemon
