#include "daemon/spec/spec.h"

namespace vessel::daemon {

namespace {

constexpr uint32_t kMaxCpus = 256;
constexpr uint64_t kMaxMemoryMib = 1ull << 20;  // 1 TiB
constexpr size_t kMaxItems = 256;               // env entries, labels, args, disks
constexpr size_t kMaxStringBytes = 4096;

Result<std::string> bounded_string(const json::Json& j, std::string_view where) {
  if (!j.is_string()) return fail(EINVAL, "{}: expected a string, got {}", where, json::type_name(j));
  auto s = j.get<std::string>();
  if (s.size() > kMaxStringBytes) return fail(EINVAL, "{}: longer than {} bytes", where, kMaxStringBytes);
  if (s.find('\0') != std::string::npos) return fail(EINVAL, "{}: contains a NUL byte", where);
  return s;
}

Result<std::map<std::string, std::string>> string_map(const json::Json& j, std::string_view where) {
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, json::type_name(j));
  if (j.size() > kMaxItems) return fail(EINVAL, "{}: more than {} entries", where, kMaxItems);
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (k.empty() || k.size() > 256 || k.find('=') != std::string::npos)
      return fail(EINVAL, "{}: invalid key '{}'", where, k.substr(0, 64));
    out[k] = TRY(bounded_string(v, fmt::format("{}.{}", where, k)));
  }
  return out;
}

Result<std::string> absolute_path(const json::Json& j, std::string_view where) {
  auto s = TRY(bounded_string(j, where));
  if (s.empty() || s[0] != '/') return fail(EINVAL, "{}: '{}' is not an absolute path", where, s);
  return s;
}

Result<uint64_t> ranged(const json::Json& obj, const char* key, uint64_t lo, uint64_t hi, uint64_t dflt) {
  auto v = TRY(json::opt_uint(obj, "spec", key));
  if (!v) return dflt;
  if (*v < lo || *v > hi) return fail(EINVAL, "spec.{}: {} is outside {}..{}", key, *v, lo, hi);
  return *v;
}

// {"max_size": bytes, "max_file": files}, each optional (Docker's defaults are not ours: 10 MiB, 3).
Result<LogLimits> log_limits(const json::Json& j) {
  if (!j.is_object()) return fail(EINVAL, "spec.log: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "spec.log", {"max_size", "max_file"}));
  LogLimits l;
  if (auto size = TRY(json::opt_uint(j, "spec.log", "max_size"))) l.max_size = *size;
  if (auto files = TRY(json::opt_uint(j, "spec.log", "max_file"))) {
    if (*files > kMaxLogFiles) return fail(EINVAL, "spec.log.max_file: {} is outside 1..{}", *files, kMaxLogFiles);
    l.max_files = static_cast<unsigned>(*files);
  }
  TRY_CTX(check_log_limits(l), "spec");
  return l;
}

}  // namespace

std::string_view to_string(InstanceType t) { return t == InstanceType::Vm ? "vm" : "container"; }

Result<void> validate_image_name(std::string_view name) {
  if (name.find_first_of("/:@") == std::string_view::npos) return validate_name(name);
  constexpr size_t kMaxReference = 400;
  if (name.size() > kMaxReference) return fail(EINVAL, "the image reference is {} bytes long; the limit is {}", name.size(), kMaxReference);
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("._-/:@[]").find(c) != std::string_view::npos;
    if (!ok)
      return fail(EINVAL, "the image reference '{}' contains '{}'", name, c == '\0' ? std::string("\\0") : std::string(1, c));
  }
  if (name.find("..") != std::string_view::npos || name.find("//") != std::string_view::npos || name.front() == '/' ||
      name.back() == '/')
    return fail(EINVAL, "the image reference '{}' is malformed", name);
  return {};
}

Result<void> validate_name(std::string_view name) {
  if (name.empty()) return fail(EINVAL, "the name is empty");
  if (name.size() > kMaxNameLength)
    return fail(EINVAL, "the name is {} bytes long; the limit is {}", name.size(), kMaxNameLength);
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  };
  for (char c : name)
    if (!ok(c))
      return Unexpected(Error(EINVAL, fmt::format("the name '{}' contains '{}'", name, c == '\0' ? std::string("\\0") : std::string(1, c)))
                            .with_hint("use letters, digits, '_', '.' and '-'"));
  if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= '0' && name[0] <= '9')))
    return fail(EINVAL, "the name '{}' must start with a letter or a digit", name);
  return {};
}

Result<InstanceSpec> parse_spec(const json::Json& body) {
  if (!body.is_object()) return fail(EINVAL, "spec: expected an object, got {}", json::type_name(body));
  TRY(json::reject_unknown(body, "spec",
                           {"name", "type", "image", "rootfs", "kernel", "initramfs", "cmdline", "cpus",
                            "cpu_reservation", "cpu_weight", "memory_mib", "memory_reservation_mib",
                            "stop_timeout_s", "disks", "environment", "command", "labels", "privileged", "cap_add",
                            "cap_drop", "security_opt", "pids_limit", "userns", "log", "network", "ports", "ksm",
                            "pool", "restart", "healthcheck", "no_healthcheck"}));
  InstanceSpec s;
  s.name = TRY(json::get_string(body, "spec", "name"));
  TRY_CTX(validate_name(s.name), "spec.name");
  auto type = TRY(json::opt_string(body, "spec", "type")).value_or("container");
  if (type == "vm") s.type = InstanceType::Vm;
  else if (type == "container") s.type = InstanceType::Container;
  else return fail(EINVAL, "spec.type: '{}' is neither 'vm' nor 'container'", type);

  if (body.contains("image")) s.image = TRY(bounded_string(body["image"], "spec.image"));
  if (body.contains("rootfs")) s.rootfs = TRY(absolute_path(body["rootfs"], "spec.rootfs"));
  if (body.contains("kernel")) s.kernel = TRY(absolute_path(body["kernel"], "spec.kernel"));
  if (body.contains("initramfs")) s.initramfs = TRY(absolute_path(body["initramfs"], "spec.initramfs"));
  if (body.contains("cmdline")) s.cmdline = TRY(bounded_string(body["cmdline"], "spec.cmdline"));

  s.cpus = static_cast<uint32_t>(TRY(ranged(body, "cpus", 1, kMaxCpus, 1)));
  s.cpu_weight = static_cast<uint32_t>(TRY(ranged(body, "cpu_weight", 1, 10000, 100)));
  s.memory_mib = TRY(ranged(body, "memory_mib", 4, kMaxMemoryMib, 256));
  s.memory_reservation_mib = TRY(ranged(body, "memory_reservation_mib", 0, s.memory_mib, s.memory_mib));
  s.stop_timeout_s = static_cast<uint32_t>(TRY(ranged(body, "stop_timeout_s", 0, 3600, 10)));
  s.ksm = TRY(json::opt_bool(body, "spec", "ksm")).value_or(false);
  if (s.ksm && s.type != InstanceType::Vm)
    return fail(EINVAL, "spec.ksm: KSM sharing is for VMs (their guest RAM); containers share pages through their images");
  if (body.contains("cpu_reservation")) {
    const auto& r = body["cpu_reservation"];
    if (!r.is_number()) return fail(EINVAL, "spec.cpu_reservation: expected a number, got {}", json::type_name(r));
    double v = r.get<double>();
    if (!(v >= 0 && v <= s.cpus)) return fail(EINVAL, "spec.cpu_reservation: {} is outside 0..{} (cpus)", v, s.cpus);
    s.cpu_reservation = v;
  } else {
    s.cpu_reservation = s.cpus;
  }

  if (body.contains("environment")) s.environment = TRY(string_map(body["environment"], "spec.environment"));
  if (body.contains("labels")) s.labels = TRY(string_map(body["labels"], "spec.labels"));
  if (body.contains("command")) {
    const auto& c = body["command"];
    if (!c.is_array()) return fail(EINVAL, "spec.command: expected an array of strings, got {}", json::type_name(c));
    if (c.size() > kMaxItems) return fail(EINVAL, "spec.command: more than {} arguments", kMaxItems);
    for (size_t i = 0; i < c.size(); ++i) s.command.push_back(TRY(bounded_string(c[i], fmt::format("spec.command[{}]", i))));
  }
  if (body.contains("disks")) {
    const auto& d = body["disks"];
    if (!d.is_array()) return fail(EINVAL, "spec.disks: expected an array, got {}", json::type_name(d));
    if (d.size() > 16) return fail(EINVAL, "spec.disks: more than 16 disks");
    for (size_t i = 0; i < d.size(); ++i) {
      auto where = fmt::format("spec.disks[{}]", i);
      if (!d[i].is_object()) return fail(EINVAL, "{}: expected an object", where);
      TRY(json::reject_unknown(d[i], where, {"path", "read_only", "format", "size_mib"}));
      DiskSpec disk;
      disk.read_only = TRY(json::opt_bool(d[i], where, "read_only")).value_or(false);
      if (d[i].contains("size_mib")) {
        if (d[i].contains("path") || d[i].contains("format"))
          return fail(EINVAL, "{}: give either size_mib (a new empty disk) or path [and format]", where);
        auto mib = TRY(json::opt_uint(d[i], where, "size_mib"));
        if (!mib || *mib < 1 || *mib > kMaxDiskMib)
          return fail(EINVAL, "{}.size_mib: {} is outside 1..{} (16 TiB)", where, mib.value_or(0), kMaxDiskMib);
        disk.size_mib = *mib;
        if (disk.read_only) return fail(EINVAL, "{}: a new empty disk cannot be read-only", where);
      } else {
        disk.path = TRY(absolute_path(d[i].value("path", json::Json()), where + ".path"));
        disk.format = TRY(json::opt_string(d[i], where, "format")).value_or("raw");
        if (disk.format != "raw" && disk.format != "qcow2")
          return fail(EINVAL, "{}.format: '{}' is neither 'raw' nor 'qcow2'", where, disk.format);
      }
      s.disks.push_back(disk);
    }
  }

  s.security = TRY(parse_security(body));
  if (body.contains("log")) s.log = TRY(log_limits(body["log"]));
  if (body.contains("network")) {
    s.network = TRY(bounded_string(body["network"], "spec.network"));
    if (!s.network.empty()) TRY_CTX(validate_name(s.network), "spec.network");
  }
  if (body.contains("pool")) s.pool = TRY(parse_pool_membership(body["pool"]));
  if (body.contains("ports")) s.ports = TRY(parse_ports(body["ports"]));
  if (body.contains("restart")) s.restart = TRY_CTX(parse_restart_policy(TRY(bounded_string(body["restart"], "spec.restart"))), "spec.restart");
  if (body.contains("healthcheck")) s.healthcheck = TRY(parse_healthcheck(body["healthcheck"], "spec.healthcheck"));
  s.no_healthcheck = TRY(json::opt_bool(body, "spec", "no_healthcheck")).value_or(false);
  if (s.no_healthcheck && s.healthcheck) return fail(EINVAL, "spec: no_healthcheck and healthcheck exclude each other");
  if (!s.ports.empty() && (s.network == "none" || s.network == "host"))
    return fail(EINVAL, "spec.ports: --network {} has no ports to publish{}", s.network,
                s.network == "host" ? " (the instance uses the host's ports directly)" : "");

  if (s.type == InstanceType::Vm) {
    if (s.security.custom())
      return fail(EINVAL, "spec: privileged, cap_add, cap_drop, security_opt, pids_limit and userns are for containers only");
    if (s.image.empty() && s.kernel.empty())
      return Unexpected(Error(EINVAL, "a VM needs an image or a kernel").with_hint("pass --image NAME or --kernel PATH"));
    if (!s.rootfs.empty()) return fail(EINVAL, "spec.rootfs: only containers have a rootfs; VMs take disks");
  } else {
    if (s.image.empty() == s.rootfs.empty())
      return Unexpected(Error(EINVAL, "a container needs exactly one of image and rootfs")
                            .with_hint("pass an image name (vessel image ls) or --rootfs DIR"));
    if (!s.kernel.empty() || !s.initramfs.empty()) return fail(EINVAL, "spec.kernel: only VMs boot a kernel");
    if (!s.disks.empty()) return fail(EINVAL, "spec.disks: containers take no disks");
  }
  if (!s.image.empty()) TRY_CTX(validate_image_name(s.image), "spec.image");
  return s;
}

Result<InstanceSpec> parse_spec_text(std::string_view text) {
  auto j = TRY_CTX(json::parse(text, 1 << 20), "spec");
  return parse_spec(j);
}

json::Json to_json(const InstanceSpec& s) {
  json::Json j = {{"name", s.name},
                  {"type", std::string(to_string(s.type))},
                  {"cpus", s.cpus},
                  {"cpu_reservation", s.cpu_reservation},
                  {"cpu_weight", s.cpu_weight},
                  {"memory_mib", s.memory_mib},
                  {"memory_reservation_mib", s.memory_reservation_mib},
                  {"stop_timeout_s", s.stop_timeout_s},
                  {"environment", s.environment},
                  {"command", s.command},
                  {"labels", s.labels}};
  if (!s.image.empty()) j["image"] = s.image;
  if (!s.rootfs.empty()) j["rootfs"] = s.rootfs;
  if (s.type == InstanceType::Container) security_to_json(s.security, j);
  if (!s.kernel.empty()) j["kernel"] = s.kernel;
  if (s.ksm) j["ksm"] = true;
  if (s.restart.mode != RestartMode::No) j["restart"] = to_string(s.restart);
  if (s.healthcheck) j["healthcheck"] = to_json(*s.healthcheck);
  if (s.no_healthcheck) j["no_healthcheck"] = true;
  if (!s.initramfs.empty()) j["initramfs"] = s.initramfs;
  if (!s.cmdline.empty()) j["cmdline"] = s.cmdline;
  json::Json disks = json::Json::array();
  for (const auto& d : s.disks) {
    if (d.size_mib > 0) disks.push_back({{"size_mib", d.size_mib}, {"read_only", d.read_only}});
    else disks.push_back({{"path", d.path}, {"read_only", d.read_only}, {"format", d.format.empty() ? "raw" : d.format}});
  }
  if (!s.disks.empty()) j["disks"] = disks;
  if (s.log) j["log"] = {{"max_size", s.log->max_size}, {"max_file", s.log->max_files}};
  if (!s.network.empty()) j["network"] = s.network;
  if (s.pool) j["pool"] = to_json(*s.pool);
  if (!s.ports.empty()) {
    json::Json ports = json::Json::array();
    for (const auto& p : s.ports) ports.push_back(to_json(p));
    j["ports"] = ports;
  }
  return j;
}

}  // namespace vessel::daemon
