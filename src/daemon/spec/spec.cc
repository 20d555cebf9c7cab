#include "daemon/spec/spec.h"

#include <algorithm>
#include <cctype>

#include "daemon/spec/spec_fields.h"

namespace vessel::daemon {

namespace {

constexpr uint32_t kMaxCpus = 256;
constexpr uint64_t kMaxMemoryMib = 1ull << 20;  // 1 TiB
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

Result<double> cpu_amount(const json::Json& body, const char* key, double lo, double hi) {
  const auto& v = body[key];
  if (!v.is_number()) return fail(EINVAL, "spec.{}: expected a number, got {}", key, json::type_name(v));
  double d = v.get<double>();
  if (!(d >= lo && d <= hi)) return fail(EINVAL, "spec.{}: {} is outside {}..{} (cpus)", key, d, lo, hi);
  return d;
}

// cpu_quota (containers: Docker's --cpus 0.5) and cpu_reservation, both within `cpus`.
Result<void> parse_cpu_shares(const json::Json& body, InstanceSpec& s) {
  if (body.contains("cpu_quota")) {
    if (s.type == InstanceType::Vm)
      return fail(EINVAL, "spec.cpu_quota: a VM's CPUs are whole vCPUs (spec.cpus); a quota is for containers");
    s.cpu_quota = TRY(cpu_amount(body, "cpu_quota", 0.01, s.cpus));
  }
  s.cpu_reservation = body.contains("cpu_reservation") ? TRY(cpu_amount(body, "cpu_reservation", 0, s.cpus))
                                                       : s.cpu_quota.value_or(s.cpus);
  return {};
}

// A VM's volumes are disks its guest mounts (docs/daemon/volumes.md#vms): no host directory or
// tmpfs, and targets that fit a kernel command line word (vessel.volumes=ID:TARGET,...).
Result<void> check_vm_mounts(const std::vector<MountSpec>& mounts) {
  for (const auto& m : mounts) {
    if (m.kind == MountKind::Bind)
      return Unexpected(Error(EINVAL, fmt::format("spec.mounts: a VM cannot mount the host directory {} (that needs virtio-fs)", m.source))
                            .with_hint("use a named volume (-v NAME:" + m.target + ") or a disk (--disk PATH)"));
    if (m.kind == MountKind::Tmpfs)
      return Unexpected(Error(EINVAL, fmt::format("spec.mounts: --tmpfs {} is for containers", m.target))
                            .with_hint("a VM's guest mounts its own tmpfs"));
    bool plain = std::all_of(m.target.begin(), m.target.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '.' || c == '-';
    });
    if (!plain) return fail(EINVAL, "spec.mounts: a VM's volume target {} may hold only letters, digits and / _ . -", m.target);
  }
  return {};
}

// What belongs to one type only: a VM's kernel and disks, a container's rootfs, security and mounts.
Result<void> check_type_fields(const InstanceSpec& s) {
  if (s.type == InstanceType::Vm) {
    if (s.security.custom())
      return fail(EINVAL, "spec: privileged, cap_add, cap_drop, security_opt, pids_limit and userns are for containers only");
    if (s.image.empty() && s.kernel.empty())
      return Unexpected(Error(EINVAL, "a VM needs an image or a kernel").with_hint("pass --image NAME or --kernel PATH"));
    if (!s.rootfs.empty()) return fail(EINVAL, "spec.rootfs: only containers have a rootfs; VMs take disks");
    TRY(check_vm_mounts(s.mounts));
    if (!s.process.empty())
      return fail(EINVAL, "spec: entrypoint, workdir, user, hostname, tty, interactive and init are for containers (a VM's are its guest's; "
                          "`vessel console` attaches to a VM's serial console)");
  } else {
    if (s.image.empty() == s.rootfs.empty())
      return Unexpected(Error(EINVAL, "a container needs exactly one of image and rootfs")
                            .with_hint("pass an image name (vessel image ls) or --rootfs DIR"));
    if (!s.kernel.empty() || !s.initramfs.empty()) return fail(EINVAL, "spec.kernel: only VMs boot a kernel");
    if (!s.disks.empty()) return fail(EINVAL, "spec.disks: containers take no disks");
  }
  return {};
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

Result<std::map<std::string, std::string>> parse_string_map(const json::Json& j, std::string_view where) {
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, json::type_name(j));
  if (j.size() > kMaxSpecItems) return fail(EINVAL, "{}: more than {} entries", where, kMaxSpecItems);
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (k.empty() || k.size() > 256 || k.find('=') != std::string::npos)
      return fail(EINVAL, "{}: invalid key '{}'", where, k.substr(0, 64));
    out[k] = TRY(bounded_string(v, fmt::format("{}.{}", where, k)));
  }
  return out;
}

Result<InstanceSpec> parse_spec(const json::Json& body) {
  if (!body.is_object()) return fail(EINVAL, "spec: expected an object, got {}", json::type_name(body));
  TRY(json::reject_unknown(body, "spec",
                           {"name", "type", "image", "rootfs", "kernel", "initramfs", "cmdline", "cpus",
                            "cpu_reservation", "cpu_quota", "cpu_weight", "memory_mib", "memory_reservation_mib",
                            "stop_timeout_s", "disks", "environment", "command", "labels", "privileged", "cap_add",
                            "cap_drop", "security_opt", "pids_limit", "userns", "log", "network", "ports", "ksm",
                            "pool", "restart", "healthcheck", "no_healthcheck", "balloon", "watchdog", "mounts",
                            "entrypoint", "workdir", "user", "hostname", "tty", "init", "interactive", "auto_remove"}));
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
  if (body.contains("balloon")) {
    if (s.type != InstanceType::Vm) return fail(EINVAL, "spec.balloon: a memory balloon is for VMs (containers' memory is reclaimed by their cgroup)");
    s.balloon = TRY(parse_balloon_spec(body["balloon"]));
  }
  if (auto w = TRY(json::opt_string(body, "spec", "watchdog"))) {
    s.watchdog = vmm::parse_watchdog_action(*w);
    if (!s.watchdog) return fail(EINVAL, "spec.watchdog: '{}' is not reset, poweroff, pause or none", *w);
    if (s.type != InstanceType::Vm) return fail(EINVAL, "spec.watchdog: a watchdog is for VMs (a container has no guest kernel to hang)");
  }
  TRY(parse_cpu_shares(body, s));

  if (body.contains("environment")) s.environment = TRY(parse_string_map(body["environment"], "spec.environment"));
  if (body.contains("labels")) s.labels = TRY(parse_string_map(body["labels"], "spec.labels"));
  if (body.contains("command")) s.command = TRY(string_list(body["command"], "spec.command"));
  s.process = TRY(parse_process_spec(body));
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
  if (body.contains("mounts")) s.mounts = TRY(parse_mounts(body["mounts"]));
  if (body.contains("restart")) s.restart = TRY_CTX(parse_restart_policy(TRY(bounded_string(body["restart"], "spec.restart"))), "spec.restart");
  if (body.contains("healthcheck")) s.healthcheck = TRY(parse_healthcheck(body["healthcheck"], "spec.healthcheck"));
  s.no_healthcheck = TRY(json::opt_bool(body, "spec", "no_healthcheck")).value_or(false);
  if (s.no_healthcheck && s.healthcheck) return fail(EINVAL, "spec: no_healthcheck and healthcheck exclude each other");
  s.auto_remove = TRY(json::opt_bool(body, "spec", "auto_remove")).value_or(false);
  if (s.auto_remove && s.restart.mode != RestartMode::No)
    return Unexpected(Error(EINVAL, fmt::format("spec: auto_remove (--rm) and restart '{}' exclude each other", to_string(s.restart)))
                          .with_hint("an instance removed when it stops cannot be restarted: drop --rm or --restart"));
  if (!s.ports.empty() && (s.network == "none" || s.network == "host"))
    return fail(EINVAL, "spec.ports: --network {} has no ports to publish{}", s.network,
                s.network == "host" ? " (the instance uses the host's ports directly)" : "");

  TRY(check_type_fields(s));
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
  if (s.balloon) j["balloon"] = to_json(*s.balloon);
  if (s.watchdog) j["watchdog"] = vmm::to_string(*s.watchdog);
  if (s.restart.mode != RestartMode::No) j["restart"] = to_string(s.restart);
  if (s.healthcheck) j["healthcheck"] = to_json(*s.healthcheck);
  if (s.no_healthcheck) j["no_healthcheck"] = true;
  if (s.auto_remove) j["auto_remove"] = true;
  if (s.cpu_quota) j["cpu_quota"] = *s.cpu_quota;
  process_to_json(s.process, j);
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
  if (!s.mounts.empty()) {
    json::Json mounts = json::Json::array();
    for (const auto& m : s.mounts) mounts.push_back(to_json(m));
    j["mounts"] = mounts;
  }
  return j;
}

}  // namespace vessel::daemon
