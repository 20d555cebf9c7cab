#include "daemon/instances/oci_config.h"

#include <algorithm>
#include <cstdlib>

#include "daemon/instances/seccomp_profile.h"
#include "daemon/policy/cgroups.h"

namespace vessel::daemon {

namespace {

json::Json mount(const char* dest, const char* type, const char* source, std::vector<std::string> options) {
  return {{"destination", dest}, {"type", type}, {"source", source}, {"options", options}};
}

// Docker's (runc's) device rules: no device but the usual character devices (the runtime adds
// /dev/null, zero, full, random, urandom, tty, console, ptmx and the ptys); any node may be made
// (with CAP_MKNOD), not opened. Privileged: every device.
json::Json device_rules(bool privileged) {
  if (privileged) return json::Json::array({{{"allow", true}, {"access", "rwm"}}});
  return json::Json::array({{{"allow", false}, {"access", "rwm"}},
                            {{"allow", true}, {"type", "c"}, {"access", "m"}},
                            {{"allow", true}, {"type", "b"}, {"access", "m"}}});
}

// The capabilities asked for; "all" (privileged, --cap-add ALL) means all that vesseld itself
// holds in its bounding set: a capability it lacks would fail the container's start.
json::Json capabilities(const SecuritySpec& security) {
  auto caps = container_capabilities(security);
  if (!security.privileged && std::find(security.cap_add.begin(), security.cap_add.end(), "ALL") == security.cap_add.end())
    return caps;
  uint64_t bounding = ~uint64_t{0};
  if (auto status = read_file("/proc/self/status")) {
    auto at = status->find("CapBnd:\t");
    if (at != std::string::npos) bounding = std::strtoull(status->c_str() + at + 8, nullptr, 16);
  }
  json::Json out = json::Json::array();
  const auto& all = all_capabilities();
  for (const auto& c : caps) {
    auto bit = static_cast<size_t>(std::find(all.begin(), all.end(), c) - all.begin());
    if (bit >= 64 || (bounding >> bit) & 1) out.push_back(c);
  }
  return out;
}

}  // namespace

json::Json oci_process(const InstanceSpec& spec, const BootSource& boot, const std::vector<std::string>& args,
                       const ContainerUser& user) {
  std::map<std::string, std::string> env;
  env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& kv : boot.image_env) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : spec.environment) env[k] = v;
  if (spec.process.tty && !env.contains("TERM")) env["TERM"] = "xterm";  // as `docker run -t`
  json::Json env_list = json::Json::array();
  for (const auto& [k, v] : env) env_list.push_back(k + "=" + v);
  json::Json caps = capabilities(spec.security);
  json::Json process = {{"terminal", spec.process.tty.has_value()},
          {"user", {{"uid", user.uid}, {"gid", user.gid}, {"additionalGids", user.additional_gids}}},
          {"args", args},
          {"env", env_list},
          {"cwd", !spec.process.workdir.empty() ? spec.process.workdir : !boot.workdir.empty() ? boot.workdir : "/"},
          {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
          {"noNewPrivileges", spec.security.no_new_privileges}};
  if (spec.process.tty && spec.process.tty->rows && spec.process.tty->cols)
    process["consoleSize"] = {{"height", spec.process.tty->rows}, {"width", spec.process.tty->cols}};
  return process;
}

namespace {

// -v, --mount, --tmpfs (docs/daemon/volumes.md): binds are recursive and private, as Docker's.
json::Json user_mount(const MountSpec& m, const std::string& host_source) {
  if (m.kind == MountKind::Tmpfs) {
    std::vector<std::string> options = {"nosuid", "nodev", fmt::format("mode={:o}", m.tmpfs_mode)};
    if (m.tmpfs_size) options.push_back(fmt::format("size={}", m.tmpfs_size));
    if (m.read_only) options.push_back("ro");
    return mount(m.target.c_str(), "tmpfs", "tmpfs", options);
  }
  return {{"destination", m.target}, {"type", "bind"}, {"source", host_source},
          {"options", {"rbind", "rprivate", m.read_only ? "ro" : "rw"}}};
}

}  // namespace

json::Json oci_config(const InstanceContext& ctx, const BootSource& boot, const ContainerUser& user) {
  const auto& spec = ctx.spec;
  auto args = process_args(spec.process, spec.command, boot.image_entrypoint, boot.image_cmd);
  if (args.empty()) args = {"/bin/sh"};
  json::Json mounts = json::Json::array({
      mount("/proc", "proc", "proc", {}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}),
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
  });
  const SecuritySpec& security = spec.security;
  std::vector<std::string> sys_options = {"nosuid", "noexec", "nodev"};
  if (!security.privileged) sys_options.push_back("ro");
  mounts.push_back(mount("/sys", "sysfs", "sysfs", sys_options));
  for (const auto& [m, source] : ctx.mounts) mounts.push_back(user_mount(m, source));
  for (const auto& [dest, source] : ctx.etc_files)
    mounts.push_back({{"destination", dest}, {"type", "bind"}, {"source", source}, {"options", {"rbind", "ro", "nosuid", "nodev", "noexec"}}});
  json::Json resources = {
      {"memory", {{"limit", static_cast<int64_t>(spec.memory_mib << 20)}}},
      {"cpu", {{"shares", weight_to_shares(spec.cpu_weight)}, {"quota", static_cast<int64_t>(spec.cpu_quota.value_or(spec.cpus) * 100000)}, {"period", 100000}}},
      {"devices", device_rules(security.privileged)},
  };
  if (security.pids_limit > 0) resources["pids"] = {{"limit", security.pids_limit}};
  if (spec.memory_reservation_mib && spec.memory_reservation_mib < spec.memory_mib)
    resources["memory"]["reservation"] = static_cast<int64_t>(spec.memory_reservation_mib << 20);
  json::Json linux = {
      {"cgroupsPath", ctx.cgroup},
      {"resources", resources},
      {"namespaces", json::Json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                                        {{"type", "mount"}}, {{"type", "cgroup"}}})},
  };
  // --network: the netns vesseld plumbed (joined by path), the host's (none listed), or a new one.
  if (ctx.netns.empty()) linux["namespaces"].push_back({{"type", "network"}});
  else if (ctx.netns != "host") linux["namespaces"].push_back({{"type", "network"}, {"path", ctx.netns}});
  if (ctx.userns) {
    // --userns=auto: root inside is the first id of the range (docs/daemon/userns.md).
    linux["namespaces"].push_back({{"type", "user"}});
    linux["uidMappings"] = json::Json::array({{{"containerID", 0}, {"hostID", ctx.userns->uid}, {"size", ctx.userns->count}}});
    linux["gidMappings"] = json::Json::array({{{"containerID", 0}, {"hostID", ctx.userns->gid}, {"size", ctx.userns->count}}});
  }
  if (!security.privileged) {
    linux["maskedPaths"] = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"};
    linux["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
    if (!security.seccomp_unconfined) linux["seccomp"] = default_seccomp_profile(container_capabilities(security));
  }
  return {
      {"ociVersion", "1.0.2"},
      {"process", oci_process(spec, boot, args, user)},
      {"root", {{"path", "rootfs"}, {"readonly", false}}},
      {"hostname", spec.process.hostname.empty() ? spec.name : spec.process.hostname},
      {"mounts", mounts},
      {"linux", linux},
  };
}

Result<void> add_init(json::Json& config, const std::string& init_binary) {
  if (init_binary.empty())
    return Unexpected(Error(ENOENT, "--init: vessel-init was not found beside vesseld or in $PATH")
                          .with_hint("install vessel-init with vesseld, or run without --init"));
  constexpr const char* kInitPath = "/dev/init";  // podman's place: /dev is the container's own tmpfs
  config["mounts"].push_back({{"destination", kInitPath}, {"type", "bind"}, {"source", init_binary},
                              {"options", {"bind", "ro", "nosuid", "nodev"}}});
  std::vector<std::string> args = {kInitPath, "--"};
  for (const auto& a : config["process"]["args"]) args.push_back(a.get<std::string>());
  config["process"]["args"] = args;
  return {};
}

json::Json exec_process(const InstanceContext& ctx, const std::vector<std::string>& argv, bool tty) {
  // The container's own process (its environment, user, directory), as `docker exec` runs in.
  json::Json process;
  if (auto text = read_file(ctx.dir + "/config.json"))
    if (auto config = json::parse(*text); config && config->is_object() && (*config)["process"].is_object())
      process = (*config)["process"];
  if (!process.is_object()) process = oci_process(ctx.spec, BootSource{}, argv, ContainerUser{});
  process["args"] = argv;
  process["terminal"] = tty;
  process.erase("consoleSize");
  if (tty) {
    auto& env = process["env"];
    if (!env.is_array()) env = json::Json::array();
    bool has_term = false;
    for (const auto& e : env) has_term = has_term || (e.is_string() && e.get<std::string>().rfind("TERM=", 0) == 0);
    if (!has_term) env.push_back("TERM=xterm");  // as `docker exec -t`: a terminal says what it is
  }
  return process;
}

}  // namespace vessel::daemon

