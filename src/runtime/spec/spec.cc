// config.json -> Spec. Unknown properties are ignored (the spec demands it); known ones must have
// the right type, and every error names the field ("process.rlimits[2].type").
#include "runtime/spec/spec.h"

#include <fcntl.h>
#include <sched.h>

#include "base/fd.h"

namespace vessel::runtime {

using json::Json;

namespace {

std::string at(std::string_view where, std::string_view key) {
  return where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
}

const Json* field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<void> expect_object(const Json& j, std::string_view where) {
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, j.type_name());
  return {};
}

Result<std::string> opt_str(const Json& obj, std::string_view where, const char* key,
                            std::string fallback = {}) {
  const Json* v = field(obj, key);
  if (!v) return fallback;
  if (!v->is_string())
    return fail(EINVAL, "{}: expected a string, got {}", at(where, key), v->type_name());
  return v->get<std::string>();
}

Result<bool> opt_bool(const Json& obj, std::string_view where, const char* key) {
  const Json* v = field(obj, key);
  if (!v) return false;
  if (!v->is_boolean())
    return fail(EINVAL, "{}: expected a boolean, got {}", at(where, key), v->type_name());
  return v->get<bool>();
}

Result<std::optional<bool>> maybe_bool(const Json& obj, std::string_view where, const char* key) {
  const Json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean())
    return fail(EINVAL, "{}: expected a boolean, got {}", at(where, key), v->type_name());
  return v->get<bool>();
}

Result<std::optional<int64_t>> maybe_int(const Json& obj, std::string_view where, const char* key) {
  const Json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer())
    return fail(EINVAL, "{}: expected an integer, got {}", at(where, key), v->type_name());
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    return fail(ERANGE, "{}: value out of range", at(where, key));
  return v->get<int64_t>();
}

Result<std::optional<uint64_t>> maybe_uint(const Json& obj, std::string_view where, const char* key,
                                           uint64_t max = UINT64_MAX) {
  const Json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer())
    return fail(EINVAL, "{}: expected an integer, got {}", at(where, key), v->type_name());
  if (!v->is_number_unsigned() && v->get<int64_t>() < 0)
    return fail(ERANGE, "{}: must not be negative", at(where, key));
  uint64_t u = v->get<uint64_t>();
  if (u > max) return fail(ERANGE, "{}: {} is larger than {}", at(where, key), u, max);
  return u;
}

Result<uint32_t> req_u32(const Json& obj, std::string_view where, const char* key) {
  auto v = TRY(maybe_uint(obj, where, key, UINT32_MAX));
  if (!v) return fail(EINVAL, "{}: required field is missing", at(where, key));
  return static_cast<uint32_t>(*v);
}

Result<std::vector<std::string>> str_list(const Json& obj, std::string_view where, const char* key) {
  std::vector<std::string> out;
  const Json* v = field(obj, key);
  if (!v) return out;
  if (!v->is_array())
    return fail(EINVAL, "{}: expected an array, got {}", at(where, key), v->type_name());
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& e = (*v)[i];
    if (!e.is_string())
      return fail(EINVAL, "{}[{}]: expected a string, got {}", at(where, key), i, e.type_name());
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::string>> str_map(const Json& obj, std::string_view where,
                                                   const char* key) {
  std::map<std::string, std::string> out;
  const Json* v = field(obj, key);
  if (!v) return out;
  TRY(expect_object(*v, at(where, key)));
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_string())
      return fail(EINVAL, "{}.{}: expected a string, got {}", at(where, key), it.key(),
                  it.value().type_name());
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

// Iterates an optional array of objects, calling fn(element, "where[i]").
template <typename Fn>
Result<void> each_object(const Json& obj, std::string_view where, const char* key, Fn fn) {
  const Json* v = field(obj, key);
  if (!v) return {};
  if (!v->is_array())
    return fail(EINVAL, "{}: expected an array, got {}", at(where, key), v->type_name());
  for (size_t i = 0; i < v->size(); ++i) {
    std::string w = fmt::format("{}[{}]", at(where, key), i);
    TRY(expect_object((*v)[i], w));
    TRY(fn((*v)[i], w));
  }
  return {};
}

Result<uint64_t> cap_set(const Json& obj, std::string_view where, const char* key) {
  uint64_t mask = 0;
  auto names = TRY(str_list(obj, where, key));
  for (size_t i = 0; i < names.size(); ++i) {
    auto cap = capability_from_name(names[i]);
    if (!cap) return Unexpected(std::move(cap).error().add_context(fmt::format("{}[{}]", at(where, key), i)));
    mask |= uint64_t{1} << *cap;
  }
  return mask;
}

Result<Hook> parse_hook(const Json& j, std::string_view where) {
  Hook h;
  h.path = TRY(opt_str(j, where, "path"));
  if (h.path.empty() || h.path[0] != '/')
    return fail(EINVAL, "{}.path: must be an absolute path, got \"{}\"", where, h.path);
  h.args = TRY(str_list(j, where, "args"));
  h.env = TRY(str_list(j, where, "env"));
  auto t = TRY(maybe_int(j, where, "timeout"));
  if (t) {
    if (*t <= 0) return fail(EINVAL, "{}.timeout: must be positive, got {}", where, *t);
    h.timeout = static_cast<int>(std::min<int64_t>(*t, INT32_MAX));
  }
  return h;
}

Result<std::vector<IdMapping>> id_mappings(const Json& obj, std::string_view where, const char* key) {
  std::vector<IdMapping> out;
  TRY(each_object(obj, where, key, [&](const Json& e, const std::string& w) -> Result<void> {
    IdMapping m;
    m.container_id = TRY(req_u32(e, w, "containerID"));
    m.host_id = TRY(req_u32(e, w, "hostID"));
    m.size = TRY(req_u32(e, w, "size"));
    out.push_back(m);
    return {};
  }));
  return out;
}

Result<std::vector<BlockIoDevice>> blkio_devices(const Json& obj, std::string_view where,
                                                 const char* key, bool throttle) {
  std::vector<BlockIoDevice> out;
  TRY(each_object(obj, where, key, [&](const Json& e, const std::string& w) -> Result<void> {
    BlockIoDevice d;
    auto ma = TRY(maybe_int(e, w, "major"));
    auto mi = TRY(maybe_int(e, w, "minor"));
    if (!ma || !mi) return fail(EINVAL, "{}: major and minor are required", w);
    d.major = *ma;
    d.minor = *mi;
    if (throttle) {
      d.rate = TRY(maybe_uint(e, w, "rate")).value_or(0);
    } else {
      if (auto x = TRY(maybe_uint(e, w, "weight", 65535))) d.weight = static_cast<uint16_t>(*x);
      if (auto x = TRY(maybe_uint(e, w, "leafWeight", 65535))) d.leaf_weight = static_cast<uint16_t>(*x);
    }
    out.push_back(d);
    return {};
  }));
  return out;
}

Result<Seccomp> parse_seccomp(const Json& j, std::string_view where) {
  Seccomp s;
  s.default_action = TRY(opt_str(j, where, "defaultAction"));
  if (s.default_action.empty()) return fail(EINVAL, "{}.defaultAction: required field is missing", where);
  if (auto e = TRY(maybe_uint(j, where, "defaultErrnoRet", 4095))) s.default_errno_ret = static_cast<unsigned>(*e);
  s.architectures = TRY(str_list(j, where, "architectures"));
  s.flags = TRY(str_list(j, where, "flags"));
  s.listener_path = TRY(opt_str(j, where, "listenerPath"));
  s.listener_metadata = TRY(opt_str(j, where, "listenerMetadata"));
  TRY(each_object(j, where, "syscalls", [&](const Json& e, const std::string& w) -> Result<void> {
    SeccompRule r;
    r.names = TRY(str_list(e, w, "names"));
    r.action = TRY(opt_str(e, w, "action"));
    if (r.action.empty()) return fail(EINVAL, "{}.action: required field is missing", w);
    if (auto x = TRY(maybe_uint(e, w, "errnoRet", 4095))) r.errno_ret = static_cast<unsigned>(*x);
    TRY(each_object(e, w, "args", [&](const Json& a, const std::string& aw) -> Result<void> {
      SeccompArg arg;
      arg.index = TRY(req_u32(a, aw, "index"));
      if (arg.index > 5) return fail(EINVAL, "{}.index: {} is not a syscall argument (0-5)", aw, arg.index);
      arg.value = TRY(maybe_uint(a, aw, "value")).value_or(0);
      arg.value_two = TRY(maybe_uint(a, aw, "valueTwo")).value_or(0);
      arg.op = TRY(opt_str(a, aw, "op"));
      r.args.push_back(arg);
      return {};
    }));
    s.syscalls.push_back(std::move(r));
    return {};
  }));
  return s;
}

}  // namespace

Result<Process> parse_process(const Json& j, std::string_view where) {
  TRY(expect_object(j, where));
  Process p;
  p.terminal = TRY(opt_bool(j, where, "terminal"));
  if (const Json* cs = field(j, "consoleSize")) {
    std::string w = at(where, "consoleSize");
    TRY(expect_object(*cs, w));
    ConsoleSize size;
    size.height = TRY(req_u32(*cs, w, "height"));
    size.width = TRY(req_u32(*cs, w, "width"));
    p.console_size = size;
  }
  if (const Json* u = field(j, "user")) {
    std::string w = at(where, "user");
    TRY(expect_object(*u, w));
    p.user.uid = TRY(maybe_uint(*u, w, "uid", UINT32_MAX)).value_or(0);
    p.user.gid = TRY(maybe_uint(*u, w, "gid", UINT32_MAX)).value_or(0);
    if (auto m = TRY(maybe_uint(*u, w, "umask", 07777))) p.user.umask = static_cast<uint32_t>(*m);
    if (const Json* g = field(*u, "additionalGids")) {
      if (!g->is_array()) return fail(EINVAL, "{}.additionalGids: expected an array", w);
      if (g->size() > 65536) return fail(E2BIG, "{}.additionalGids: too many groups", w);
      for (size_t i = 0; i < g->size(); ++i) {
        const Json& e = (*g)[i];
        if (!e.is_number_unsigned() || e.get<uint64_t>() > UINT32_MAX)
          return fail(EINVAL, "{}.additionalGids[{}]: expected a group id", w, i);
        p.user.additional_gids.push_back(e.get<uint32_t>());
      }
    }
  }
  p.args = TRY(str_list(j, where, "args"));
  if (field(j, "commandLine")) return fail(ENOTSUP, "{}.commandLine: only used on Windows", where);
  p.env = TRY(str_list(j, where, "env"));
  p.cwd = TRY(opt_str(j, where, "cwd", "/"));
  if (p.cwd.empty() || p.cwd[0] != '/')
    return fail(EINVAL, "{}.cwd: must be an absolute path, got \"{}\"", where, p.cwd);
  if (const Json* c = field(j, "capabilities")) {
    std::string w = at(where, "capabilities");
    TRY(expect_object(*c, w));
    Capabilities caps;
    caps.bounding = TRY(cap_set(*c, w, "bounding"));
    caps.effective = TRY(cap_set(*c, w, "effective"));
    caps.inheritable = TRY(cap_set(*c, w, "inheritable"));
    caps.permitted = TRY(cap_set(*c, w, "permitted"));
    caps.ambient = TRY(cap_set(*c, w, "ambient"));
    p.capabilities = caps;
  }
  TRY(each_object(j, where, "rlimits", [&](const Json& e, const std::string& w) -> Result<void> {
    Rlimit r;
    r.type = TRY(opt_str(e, w, "type"));
    r.resource = TRY_CTX(rlimit_from_name(r.type), "{}.type", w);
    r.soft = TRY(maybe_uint(e, w, "soft")).value_or(0);
    r.hard = TRY(maybe_uint(e, w, "hard")).value_or(0);
    if (r.soft > r.hard) return fail(EINVAL, "{}: soft limit {} is above hard limit {}", w, r.soft, r.hard);
    for (const auto& prev : p.rlimits)
      if (prev.resource == r.resource) return fail(EINVAL, "{}: {} is set twice", w, r.type);
    p.rlimits.push_back(r);
    return {};
  }));
  p.no_new_privileges = TRY(opt_bool(j, where, "noNewPrivileges"));
  if (auto o = TRY(maybe_int(j, where, "oomScoreAdj"))) {
    if (*o < -1000 || *o > 1000) return fail(ERANGE, "{}.oomScoreAdj: {} is outside -1000..1000", where, *o);
    p.oom_score_adj = static_cast<int>(*o);
  }
  p.apparmor_profile = TRY(opt_str(j, where, "apparmorProfile"));
  p.selinux_label = TRY(opt_str(j, where, "selinuxLabel"));
  return p;
}

Result<Resources> parse_resources(const Json& j, std::string_view where) {
  TRY(expect_object(j, where));
  Resources r;
  TRY(each_object(j, where, "devices", [&](const Json& e, const std::string& w) -> Result<void> {
    DeviceRule d;
    const Json* allow = field(e, "allow");
    if (!allow || !allow->is_boolean()) return fail(EINVAL, "{}.allow: required boolean", w);
    d.allow = allow->get<bool>();
    d.type = TRY(opt_str(e, w, "type", "a"));
    if (d.type != "a" && d.type != "c" && d.type != "b")
      return fail(EINVAL, "{}.type: \"{}\" is not one of a, c, b", w, d.type);
    d.major = TRY(maybe_int(e, w, "major"));
    d.minor = TRY(maybe_int(e, w, "minor"));
    d.access = TRY(opt_str(e, w, "access", "rwm"));
    if (d.access.find_first_not_of("rwm") != std::string::npos)
      return fail(EINVAL, "{}.access: \"{}\" is not made of r, w, m", w, d.access);
    r.devices.push_back(d);
    return {};
  }));
  if (const Json* m = field(j, "memory")) {
    std::string w = at(where, "memory");
    TRY(expect_object(*m, w));
    MemoryResources mem;
    mem.limit = TRY(maybe_int(*m, w, "limit"));
    mem.reservation = TRY(maybe_int(*m, w, "reservation"));
    mem.swap = TRY(maybe_int(*m, w, "swap"));
    mem.kernel = TRY(maybe_int(*m, w, "kernel"));
    mem.kernel_tcp = TRY(maybe_int(*m, w, "kernelTCP"));
    mem.swappiness = TRY(maybe_uint(*m, w, "swappiness"));
    mem.disable_oom_killer = TRY(maybe_bool(*m, w, "disableOOMKiller"));
    mem.use_hierarchy = TRY(maybe_bool(*m, w, "useHierarchy"));
    mem.check_before_update = TRY(maybe_bool(*m, w, "checkBeforeUpdate"));
    r.memory = mem;
  }
  if (const Json* c = field(j, "cpu")) {
    std::string w = at(where, "cpu");
    TRY(expect_object(*c, w));
    CpuResources cpu;
    cpu.shares = TRY(maybe_uint(*c, w, "shares"));
    cpu.quota = TRY(maybe_int(*c, w, "quota"));
    cpu.burst = TRY(maybe_uint(*c, w, "burst"));
    cpu.period = TRY(maybe_uint(*c, w, "period"));
    cpu.realtime_runtime = TRY(maybe_int(*c, w, "realtimeRuntime"));
    cpu.realtime_period = TRY(maybe_uint(*c, w, "realtimePeriod"));
    cpu.idle = TRY(maybe_int(*c, w, "idle"));
    cpu.cpus = TRY(opt_str(*c, w, "cpus"));
    cpu.mems = TRY(opt_str(*c, w, "mems"));
    r.cpu = cpu;
  }
  if (const Json* p = field(j, "pids")) {
    std::string w = at(where, "pids");
    TRY(expect_object(*p, w));
    auto limit = TRY(maybe_int(*p, w, "limit"));
    r.pids_limit = limit;
  }
  if (const Json* b = field(j, "blockIO")) {
    std::string w = at(where, "blockIO");
    TRY(expect_object(*b, w));
    BlockIoResources io;
    if (auto x = TRY(maybe_uint(*b, w, "weight", 65535))) io.weight = static_cast<uint16_t>(*x);
    if (auto x = TRY(maybe_uint(*b, w, "leafWeight", 65535))) io.leaf_weight = static_cast<uint16_t>(*x);
    io.weight_device = TRY(blkio_devices(*b, w, "weightDevice", false));
    io.throttle_read_bps = TRY(blkio_devices(*b, w, "throttleReadBpsDevice", true));
    io.throttle_write_bps = TRY(blkio_devices(*b, w, "throttleWriteBpsDevice", true));
    io.throttle_read_iops = TRY(blkio_devices(*b, w, "throttleReadIOPSDevice", true));
    io.throttle_write_iops = TRY(blkio_devices(*b, w, "throttleWriteIOPSDevice", true));
    r.block_io = io;
  }
  TRY(each_object(j, where, "hugepageLimits", [&](const Json& e, const std::string& w) -> Result<void> {
    HugepageLimit h;
    h.page_size = TRY(opt_str(e, w, "pageSize"));
    if (h.page_size.empty() || h.page_size.find('/') != std::string::npos || h.page_size.find("..") != std::string::npos)
      return fail(EINVAL, "{}.pageSize: invalid \"{}\"", w, h.page_size);
    h.limit = TRY(maybe_uint(e, w, "limit")).value_or(0);
    r.hugepage_limits.push_back(h);
    return {};
  }));
  if (const Json* n = field(j, "network")) {
    std::string w = at(where, "network");
    TRY(expect_object(*n, w));
    if (auto c = TRY(maybe_uint(*n, w, "classID", UINT32_MAX))) r.net_cls_classid = static_cast<uint32_t>(*c);
    TRY(each_object(*n, w, "priorities", [&](const Json& e, const std::string& pw) -> Result<void> {
      auto name = TRY(opt_str(e, pw, "name"));
      auto prio = TRY(maybe_uint(e, pw, "priority", UINT32_MAX)).value_or(0);
      r.net_prio.emplace_back(name, static_cast<uint32_t>(prio));
      return {};
    }));
  }
  r.unified = TRY(str_map(j, where, "unified"));
  for (const auto& [k, v] : r.unified)
    if (k.empty() || k.find('/') != std::string::npos || k.find("..") != std::string::npos)
      return fail(EINVAL, "{}.unified: invalid key \"{}\"", where, k);
  return r;
}

Result<Spec> parse_spec_json(const Json& doc) {
  TRY(expect_object(doc, "config.json"));
  Spec s;
  s.oci_version = TRY(opt_str(doc, "", "ociVersion"));
  if (s.oci_version.empty()) return fail(EINVAL, "ociVersion: required field is missing");
  if (s.oci_version.rfind("1.", 0) != 0)
    return fail(ENOTSUP, "ociVersion: version \"{}\" is not supported (1.0 - 1.2)", s.oci_version);
  if (const Json* p = field(doc, "process")) s.process = TRY(parse_process(*p, "process"));
  const Json* root = field(doc, "root");
  if (!root) return fail(EINVAL, "root: required field is missing");
  TRY(expect_object(*root, "root"));
  s.root_path = TRY(opt_str(*root, "root", "path"));
  if (s.root_path.empty()) return fail(EINVAL, "root.path: required field is missing");
  s.root_readonly = TRY(opt_bool(*root, "root", "readonly"));
  s.has_hostname = field(doc, "hostname") != nullptr;
  s.hostname = TRY(opt_str(doc, "", "hostname"));
  s.has_domainname = field(doc, "domainname") != nullptr;
  s.domainname = TRY(opt_str(doc, "", "domainname"));
  TRY(each_object(doc, "", "mounts", [&](const Json& e, const std::string& w) -> Result<void> {
    Mount m;
    m.destination = TRY(opt_str(e, w, "destination"));
    if (m.destination.empty()) return fail(EINVAL, "{}.destination: required field is missing", w);
    m.type = TRY(opt_str(e, w, "type"));
    m.source = TRY(opt_str(e, w, "source"));
    m.options = TRY(str_list(e, w, "options"));
    if (e.contains("uidMappings") || e.contains("gidMappings"))
      return fail(ENOTSUP, "{}: idmapped mounts are not supported", w);
    s.mounts.push_back(std::move(m));
    return {};
  }));
  if (const Json* h = field(doc, "hooks")) {
    TRY(expect_object(*h, "hooks"));
    auto list = [&](const char* key, std::vector<Hook>& out) -> Result<void> {
      return each_object(*h, "hooks", key, [&](const Json& e, const std::string& w) -> Result<void> {
        out.push_back(TRY(parse_hook(e, w)));
        return {};
      });
    };
    TRY(list("prestart", s.hooks.prestart));
    TRY(list("createRuntime", s.hooks.create_runtime));
    TRY(list("createContainer", s.hooks.create_container));
    TRY(list("startContainer", s.hooks.start_container));
    TRY(list("poststart", s.hooks.poststart));
    TRY(list("poststop", s.hooks.poststop));
  }
  s.annotations = TRY(str_map(doc, "", "annotations"));
  if (const Json* l = field(doc, "linux")) {
    const std::string w = "linux";
    TRY(expect_object(*l, w));
    Linux lx;
    TRY(each_object(*l, w, "namespaces", [&](const Json& e, const std::string& nw) -> Result<void> {
      Namespace ns;
      ns.type = TRY(opt_str(e, nw, "type"));
      if (!namespace_proc_name(ns.type)) return fail(EINVAL, "{}.type: unknown namespace \"{}\"", nw, ns.type);
      ns.path = TRY(opt_str(e, nw, "path"));
      for (const auto& prev : lx.namespaces)
        if (prev.type == ns.type) return fail(EINVAL, "{}: namespace \"{}\" is listed twice", nw, ns.type);
      lx.namespaces.push_back(ns);
      return {};
    }));
    lx.uid_mappings = TRY(id_mappings(*l, w, "uidMappings"));
    lx.gid_mappings = TRY(id_mappings(*l, w, "gidMappings"));
    TRY(each_object(*l, w, "devices", [&](const Json& e, const std::string& dw) -> Result<void> {
      Device d;
      d.path = TRY(opt_str(e, dw, "path"));
      auto type = TRY(opt_str(e, dw, "type"));
      if (type.size() != 1 || std::string_view("cbup").find(type[0]) == std::string_view::npos)
        return fail(EINVAL, "{}.type: \"{}\" is not one of c, b, u, p", dw, type);
      d.type = type[0];
      d.major = TRY(maybe_int(e, dw, "major")).value_or(0);
      d.minor = TRY(maybe_int(e, dw, "minor")).value_or(0);
      if (d.type != 'p' && (!e.contains("major") || !e.contains("minor")))
        return fail(EINVAL, "{}: major and minor are required for type {}", dw, d.type);
      // podman passes the whole st_mode (020600 for a character device); the type comes from
      // "type" and only the permission bits are used (mounts.cc), as runc and crun do.
      if (auto m = TRY(maybe_uint(e, dw, "fileMode", 0177777))) d.file_mode = static_cast<uint32_t>(*m & 07777);
      if (auto u = TRY(maybe_uint(e, dw, "uid", UINT32_MAX))) d.uid = static_cast<uint32_t>(*u);
      if (auto g = TRY(maybe_uint(e, dw, "gid", UINT32_MAX))) d.gid = static_cast<uint32_t>(*g);
      lx.devices.push_back(d);
      return {};
    }));
    lx.cgroups_path = TRY(opt_str(*l, w, "cgroupsPath"));
    if (const Json* r = field(*l, "resources")) lx.resources = TRY(parse_resources(*r, "linux.resources"));
    if (field(*l, "rootfsPropagation")) lx.rootfs_propagation = TRY(opt_str(*l, w, "rootfsPropagation"));
    if (const Json* sc = field(*l, "seccomp")) {
      TRY(expect_object(*sc, "linux.seccomp"));
      lx.seccomp = TRY(parse_seccomp(*sc, "linux.seccomp"));
    }
    lx.sysctl = TRY(str_map(*l, w, "sysctl"));
    lx.has_masked_paths = field(*l, "maskedPaths") != nullptr;
    lx.masked_paths = TRY(str_list(*l, w, "maskedPaths"));
    lx.has_readonly_paths = field(*l, "readonlyPaths") != nullptr;
    lx.readonly_paths = TRY(str_list(*l, w, "readonlyPaths"));
    lx.mount_label = TRY(opt_str(*l, w, "mountLabel"));
    if (const Json* t = field(*l, "timeOffsets")) {
      TRY(expect_object(*t, "linux.timeOffsets"));
      for (auto it = t->begin(); it != t->end(); ++it) {
        std::string tw = fmt::format("linux.timeOffsets.{}", it.key());
        if (it.key() != "monotonic" && it.key() != "boottime")
          return fail(EINVAL, "{}: unknown clock (monotonic or boottime)", tw);
        TRY(expect_object(it.value(), tw));
        TimeOffset off;
        off.secs = TRY(maybe_int(it.value(), tw, "secs")).value_or(0);
        off.nanosecs = static_cast<uint32_t>(TRY(maybe_uint(it.value(), tw, "nanosecs", 999999999)).value_or(0));
        lx.time_offsets[it.key()] = off;
      }
    }
    s.linux = std::move(lx);
  }
  TRY(validate(s));
  return s;
}

Result<Spec> parse_spec(std::string_view text) {
  auto doc = TRY(json::parse(text, kMaxConfigBytes, kMaxConfigDepth));
  return parse_spec_json(doc);
}

Result<Spec> load_spec(const std::string& bundle_dir) {
  std::string path = bundle_dir + "/config.json";
  auto fd = TRY_CTX(Fd::open(path, O_RDONLY | O_NOFOLLOW), "open {}", path);
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read {}", path);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxConfigBytes)
      return fail(E2BIG, "{} is larger than {} bytes", path, kMaxConfigBytes);
  }
  return TRY_CTX(parse_spec(text), "{}", path);
}

const Namespace* Spec::find_namespace(std::string_view type) const {
  if (!linux) return nullptr;
  for (const auto& ns : linux->namespaces)
    if (ns.type == type) return &ns;
  return nullptr;
}

bool Spec::creates_namespace(std::string_view type) const {
  const Namespace* ns = find_namespace(type);
  return ns && ns->path.empty();
}

}  // namespace vessel::runtime
