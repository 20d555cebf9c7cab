// Cross-field validation of a parsed Spec: everything that can be checked without touching the
// host is checked here, before the runtime creates anything.
#include <set>

#include "runtime/spec/spec.h"
#include "runtime/spec/systemd_path.h"

namespace vessel::runtime {

namespace {

bool has_dotdot(std::string_view path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (path.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

Result<void> check_mappings(const std::vector<IdMapping>& maps, const char* what) {
  if (maps.size() > 340) return fail(E2BIG, "linux.{}: {} ranges, the kernel takes at most 340", what, maps.size());
  for (size_t i = 0; i < maps.size(); ++i) {
    const auto& a = maps[i];
    if (a.size == 0) return fail(EINVAL, "linux.{}[{}]: size must not be 0", what, i);
    if (uint64_t{a.container_id} + a.size > (uint64_t{1} << 32) ||
        uint64_t{a.host_id} + a.size > (uint64_t{1} << 32))
      return fail(ERANGE, "linux.{}[{}]: range wraps past 2^32", what, i);
    for (size_t j = 0; j < i; ++j) {
      const auto& b = maps[j];
      auto overlap = [](uint64_t s1, uint64_t n1, uint64_t s2, uint64_t n2) {
        return s1 < s2 + n2 && s2 < s1 + n1;
      };
      if (overlap(a.container_id, a.size, b.container_id, b.size))
        return fail(EINVAL, "linux.{}[{}] overlaps linux.{}[{}] in container ids", what, i, what, j);
      if (overlap(a.host_id, a.size, b.host_id, b.size))
        return fail(EINVAL, "linux.{}[{}] overlaps linux.{}[{}] in host ids", what, i, what, j);
    }
  }
  return {};
}

// Which namespace a sysctl belongs to; empty when it is not namespaced (host-wide).
std::string sysctl_namespace(const std::string& key) {
  static const std::set<std::string> ipc = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
                                            "kernel.sem", "kernel.shmall", "kernel.shmmax",
                                            "kernel.shmmni", "kernel.shm_rmid_forced"};
  if (ipc.count(key) || key.rfind("fs.mqueue.", 0) == 0) return "ipc";
  if (key.rfind("net.", 0) == 0) return "network";
  if (key == "kernel.hostname" || key == "kernel.domainname") return "uts";
  return {};
}

}  // namespace

Result<void> validate(const Spec& s) {
  if (s.process) {
    if (s.process->args.empty()) return fail(EINVAL, "process.args: must name at least the program to run");
    for (size_t i = 0; i < s.process->env.size(); ++i)
      if (s.process->env[i].find('=') == std::string::npos)
        return fail(EINVAL, "process.env[{}]: \"{}\" is not NAME=VALUE", i, s.process->env[i]);
  }
  for (size_t i = 0; i < s.mounts.size(); ++i) {
    const auto& m = s.mounts[i];
    if (has_dotdot(m.destination))
      return fail(EINVAL, "mounts[{}].destination: \"{}\" must not contain \"..\"", i, m.destination);
  }
  if (s.has_hostname && !s.hostname.empty() && !s.creates_namespace("uts") && !s.find_namespace("uts"))
    return hinted(fail(EINVAL, "hostname: needs a uts namespace"), "add {\"type\": \"uts\"} to linux.namespaces");
  if (s.has_domainname && !s.domainname.empty() && !s.find_namespace("uts"))
    return fail(EINVAL, "domainname: needs a uts namespace");
  if (!s.linux) return {};
  const Linux& l = *s.linux;
  for (const auto& ns : l.namespaces) {
    if (!ns.path.empty() && ns.path[0] != '/')
      return fail(EINVAL, "linux.namespaces: path \"{}\" of the {} namespace must be absolute", ns.path, ns.type);
  }
  bool userns = s.find_namespace("user") != nullptr;
  if ((!l.uid_mappings.empty() || !l.gid_mappings.empty()) && !s.creates_namespace("user"))
    return fail(EINVAL, "linux.uidMappings: id mappings need a new user namespace");
  if (s.creates_namespace("user") && (l.uid_mappings.empty() || l.gid_mappings.empty()))
    return fail(EINVAL, "linux.uidMappings: a new user namespace needs uid and gid mappings");
  (void)userns;
  TRY(check_mappings(l.uid_mappings, "uidMappings"));
  TRY(check_mappings(l.gid_mappings, "gidMappings"));
  if (has_dotdot(l.cgroups_path))
    return fail(EINVAL, "linux.cgroupsPath: \"{}\" must not contain \"..\"", l.cgroups_path);
  if (looks_like_systemd_path(l.cgroups_path)) TRY(parse_systemd_cgroups_path(l.cgroups_path));
  for (const auto& [key, value] : l.sysctl) {
    std::string dotted = key;
    for (auto& c : dotted)
      if (c == '/') c = '.';
    if (dotted.empty() || dotted.find("..") != std::string::npos || dotted[0] == '.')
      return fail(EINVAL, "linux.sysctl: invalid key \"{}\"", key);
    std::string ns = sysctl_namespace(dotted);
    if (ns.empty())
      return fail(EPERM, "linux.sysctl: \"{}\" is not namespaced and would change the host", key);
    if (!s.find_namespace(ns))
      return fail(EPERM, "linux.sysctl: \"{}\" needs the container's own {} namespace", key, ns);
  }
  for (const auto& p : l.masked_paths)
    if (p.empty() || p[0] != '/' || has_dotdot(p)) return fail(EINVAL, "linux.maskedPaths: \"{}\" must be absolute, without \"..\"", p);
  for (const auto& p : l.readonly_paths)
    if (p.empty() || p[0] != '/' || has_dotdot(p)) return fail(EINVAL, "linux.readonlyPaths: \"{}\" must be absolute, without \"..\"", p);
  if (l.rootfs_propagation) {
    static const std::set<std::string> ok = {"",        "shared",  "slave",   "private", "rshared",
                                             "rslave",  "rprivate", "unbindable", "runbindable"};
    if (!ok.count(*l.rootfs_propagation))
      return fail(EINVAL, "linux.rootfsPropagation: \"{}\" is not a propagation mode", *l.rootfs_propagation);
  }
  if (!l.time_offsets.empty() && !s.creates_namespace("time"))
    return fail(EINVAL, "linux.timeOffsets: needs a new time namespace");
  for (const auto& d : l.devices) {
    if (d.path.rfind("/dev/", 0) != 0 || has_dotdot(d.path))
      return fail(EINVAL, "linux.devices: path \"{}\" must be under /dev", d.path);
  }
  if (l.resources) {
    const auto& r = *l.resources;
    if (r.cpu && r.cpu->quota && *r.cpu->quota > 0 && *r.cpu->quota < 1000)
      return fail(EINVAL, "linux.resources.cpu.quota: {} is below the kernel's minimum of 1000", *r.cpu->quota);
    if (r.cpu && r.cpu->period && (*r.cpu->period < 1000 || *r.cpu->period > 1000000))
      return fail(EINVAL, "linux.resources.cpu.period: {} is outside 1000..1000000", *r.cpu->period);
    if (r.memory && r.memory->swappiness && *r.memory->swappiness > 100)
      return fail(EINVAL, "linux.resources.memory.swappiness: {} is above 100", *r.memory->swappiness);
    if (r.memory && r.memory->limit && r.memory->swap && *r.memory->swap > 0 && *r.memory->limit > 0 &&
        *r.memory->swap < *r.memory->limit)
      return fail(EINVAL, "linux.resources.memory.swap: {} is below memory.limit {} (swap is memory+swap)",
                  *r.memory->swap, *r.memory->limit);
  }
  return {};
}

}  // namespace vessel::runtime
