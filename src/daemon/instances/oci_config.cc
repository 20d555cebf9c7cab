#include "daemon/instances/oci_config.h"

#include "daemon/policy/cgroups.h"

namespace vessel::daemon {

namespace {

const char* const kCapabilities[] = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                                     "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                                     "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};

json::Json mount(const char* dest, const char* type, const char* source, std::vector<std::string> options) {
  return {{"destination", dest}, {"type", type}, {"source", source}, {"options", options}};
}

}  // namespace

json::Json oci_process(const InstanceSpec& spec, const BootSource& boot, const std::vector<std::string>& args) {
  std::map<std::string, std::string> env;
  env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& kv : boot.image_env) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : spec.environment) env[k] = v;
  json::Json env_list = json::Json::array();
  for (const auto& [k, v] : env) env_list.push_back(k + "=" + v);
  json::Json caps = json::Json::array();
  for (const char* c : kCapabilities) caps.push_back(c);
  return {{"terminal", false},
          {"user", {{"uid", 0}, {"gid", 0}}},
          {"args", args},
          {"env", env_list},
          {"cwd", boot.workdir.empty() ? "/" : boot.workdir},
          {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
          {"noNewPrivileges", true}};
}

json::Json oci_config(const InstanceContext& ctx, const BootSource& boot) {
  const auto& spec = ctx.spec;
  std::vector<std::string> args = spec.command.empty() ? boot.image_command : spec.command;
  if (args.empty()) args = {"/bin/sh"};
  json::Json mounts = json::Json::array({
      mount("/proc", "proc", "proc", {}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}),
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
  });
  json::Json resources = {
      {"memory", {{"limit", static_cast<int64_t>(spec.memory_mib << 20)}}},
      {"cpu", {{"shares", weight_to_shares(spec.cpu_weight)}, {"quota", static_cast<int64_t>(spec.cpus) * 100000}, {"period", 100000}}},
      {"devices", json::Json::array({{{"allow", false}, {"access", "rwm"}}})},
  };
  if (spec.memory_reservation_mib && spec.memory_reservation_mib < spec.memory_mib)
    resources["memory"]["reservation"] = static_cast<int64_t>(spec.memory_reservation_mib << 20);
  return {
      {"ociVersion", "1.0.2"},
      {"process", oci_process(spec, boot, args)},
      {"root", {{"path", "rootfs"}, {"readonly", false}}},
      {"hostname", spec.name},
      {"mounts", mounts},
      {"linux",
       {{"cgroupsPath", ctx.cgroup},
        {"resources", resources},
        {"namespaces", json::Json::array({{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}})},
        {"maskedPaths", {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                         "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}},
        {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}},
  };
}

}  // namespace vessel::daemon
