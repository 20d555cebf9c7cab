#include "daemon/spec/mount_spec.h"

#include <set>

#include "daemon/spec/spec.h"

namespace vessel::daemon {

namespace {

constexpr size_t kMaxMounts = 64;
constexpr size_t kMaxPathBytes = 4096;
constexpr uint64_t kMaxTmpfsBytes = 1ull << 40;

Result<std::string> mount_path(const json::Json& m, std::string_view where, const char* key) {
  auto path = TRY(json::get_string(m, where, key));
  if (path.empty() || path[0] != '/') return fail(EINVAL, "{}.{}: '{}' is not an absolute path", where, key, path.substr(0, 256));
  if (path.size() > kMaxPathBytes) return fail(EINVAL, "{}.{}: longer than {} bytes", where, key, kMaxPathBytes);
  if (path.find('\0') != std::string::npos) return fail(EINVAL, "{}.{}: contains a NUL byte", where, key);
  return path;
}

// "/a/./b/" and "/a/b" name one place; ".." is refused (it would climb out of what it names).
Result<std::string> normal_target(std::string path, std::string_view where) {
  std::string out;
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(pos, end - pos);
    if (part == "..") return fail(EINVAL, "{}.target: '{}' holds '..'", where, path.substr(0, 256));
    if (!part.empty() && part != ".") out += "/" + part;
    pos = end + 1;
  }
  if (out.empty()) return fail(EINVAL, "{}.target: a mount cannot cover the container's /", where);
  return out;
}

Result<MountSpec> parse_mount(const json::Json& m, std::string_view where) {
  if (!m.is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, json::type_name(m));
  TRY(json::reject_unknown(m, where, {"type", "source", "target", "read_only", "tmpfs_size", "tmpfs_mode", "anonymous"}));
  MountSpec out;
  auto type = TRY(json::get_string(m, where, "type"));
  if (type == "bind") out.kind = MountKind::Bind;
  else if (type == "volume") out.kind = MountKind::Volume;
  else if (type == "tmpfs") out.kind = MountKind::Tmpfs;
  else return fail(EINVAL, "{}.type: '{}' is not bind, volume or tmpfs", where, type.substr(0, 64));
  out.target = TRY(normal_target(TRY(mount_path(m, where, "target")), where));
  out.read_only = TRY(json::opt_bool(m, where, "read_only")).value_or(false);
  switch (out.kind) {
    case MountKind::Bind:
      out.source = TRY(mount_path(m, where, "source"));
      break;
    case MountKind::Volume:
      out.source = TRY(json::opt_string(m, where, "source")).value_or("");
      out.anonymous = TRY(json::opt_bool(m, where, "anonymous")).value_or(false);
      if (!out.source.empty()) TRY_CTX(validate_name(out.source), "{}.source", where);
      if (out.source.empty() && out.anonymous) return fail(EINVAL, "{}: an anonymous volume that has no name", where);
      break;
    case MountKind::Tmpfs:
      if (m.contains("source")) return fail(EINVAL, "{}.source: a tmpfs has no source", where);
      break;
  }
  if (out.kind != MountKind::Volume && m.contains("anonymous")) return fail(EINVAL, "{}.anonymous: only volumes are", where);
  bool tmpfs = out.kind == MountKind::Tmpfs;
  if (auto size = TRY(json::opt_uint(m, where, "tmpfs_size"))) {
    if (!tmpfs) return fail(EINVAL, "{}.tmpfs_size: only a tmpfs has a size", where);
    if (*size > kMaxTmpfsBytes) return fail(EINVAL, "{}.tmpfs_size: {} is above 1 TiB", where, *size);
    out.tmpfs_size = *size;
  }
  if (auto mode = TRY(json::opt_uint(m, where, "tmpfs_mode"))) {
    if (!tmpfs) return fail(EINVAL, "{}.tmpfs_mode: only a tmpfs has a mode", where);
    if (*mode > 07777) return fail(EINVAL, "{}.tmpfs_mode: {:o} is not a file mode", where, *mode);
    out.tmpfs_mode = static_cast<uint32_t>(*mode);
  }
  return out;
}

}  // namespace

std::string_view to_string(MountKind kind) {
  switch (kind) {
    case MountKind::Bind: return "bind";
    case MountKind::Volume: return "volume";
    case MountKind::Tmpfs: return "tmpfs";
  }
  return "bind";
}

Result<std::vector<MountSpec>> parse_mounts(const json::Json& j) {
  if (!j.is_array()) return fail(EINVAL, "spec.mounts: expected an array, got {}", json::type_name(j));
  if (j.size() > kMaxMounts) return fail(EINVAL, "spec.mounts: more than {} mounts", kMaxMounts);
  std::vector<MountSpec> out;
  std::set<std::string> targets;
  for (size_t i = 0; i < j.size(); ++i) {
    auto where = fmt::format("spec.mounts[{}]", i);
    auto m = TRY(parse_mount(j[i], where));
    if (!targets.insert(m.target).second) return fail(EINVAL, "{}.target: {} is mounted twice", where, m.target);
    out.push_back(std::move(m));
  }
  return out;
}

json::Json to_json(const MountSpec& m) {
  json::Json j = {{"type", std::string(to_string(m.kind))}, {"target", m.target}};
  if (m.kind != MountKind::Tmpfs && !m.source.empty()) j["source"] = m.source;
  if (m.anonymous) j["anonymous"] = true;
  if (m.read_only) j["read_only"] = true;
  if (m.tmpfs_size) j["tmpfs_size"] = m.tmpfs_size;
  if (m.kind == MountKind::Tmpfs && m.tmpfs_mode != 01777) j["tmpfs_mode"] = m.tmpfs_mode;
  return j;
}

}  // namespace vessel::daemon
