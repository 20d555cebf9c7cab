// The pure half of checkpoint/restore: vessel-checkpoint.json and CRIU's command lines.
#include <algorithm>
#include <functional>

#include "runtime/checkpoint.h"

namespace vessel::runtime {

namespace {

bool is_bind(const Mount& m) {
  if (m.type == "bind") return true;
  for (const auto& o : m.options)
    if (o == "bind" || o == "rbind") return true;
  return false;
}

void common_flags(std::vector<std::string>& argv, const CriuOptions& c) {
  argv.insert(argv.end(), {"--images-dir", c.image_path, "--work-dir", c.work_path.empty() ? c.image_path : c.work_path,
                           "-v4"});
  argv.push_back("--manage-cgroups=" + (c.manage_cgroups_mode.empty() ? std::string("ignore") : c.manage_cgroups_mode));
  if (c.tcp_established) argv.push_back("--tcp-established");
  if (c.ext_unix_sk) argv.push_back("--ext-unix-sk");
  if (c.shell_job) argv.push_back("--shell-job");
  if (c.file_locks) argv.push_back("--file-locks");
}

}  // namespace

bool valid_descriptor_key(std::string_view key) {
  auto all_of = [](std::string_view s, std::string_view set) {
    return !s.empty() && s.size() <= 16 && s.find_first_not_of(set) == std::string_view::npos;
  };
  if (key.empty()) return true;
  if (key.rfind("pipe:[", 0) == 0 && key.back() == ']') return all_of(key.substr(6, key.size() - 7), "0123456789");
  if (key.rfind("file[", 0) == 0 && key.back() == ']') {
    auto inner = key.substr(5, key.size() - 6);
    auto colon = inner.find(':');
    return colon != std::string_view::npos && all_of(inner.substr(0, colon), "0123456789abcdef") &&
           all_of(inner.substr(colon + 1), "0123456789abcdef");
  }
  return false;
}

json::Json CheckpointMeta::to_json() const {
  json::Json mounts = json::Json::array();
  for (const auto& [key, what] : external_mounts) mounts.push_back({{"key", key}, {"restore", what}});
  return {{"version", version}, {"descriptors", descriptors}, {"external_mounts", mounts},
          {"external_netns", external_netns}};
}

Result<CheckpointMeta> CheckpointMeta::parse(std::string_view text) {
  auto j = TRY_CTX(json::parse(text), "{}", kCheckpointMetaFile);
  auto bad = [](std::string_view what) { return fail(EINVAL, "{}: {}", kCheckpointMetaFile, what); };
  if (!j.is_object()) return bad("not an object");
  CheckpointMeta m;
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() != 1)
    return bad("unknown version (this vessel-runtime reads version 1)");
  if (j.contains("descriptors")) {
    const auto& d = j["descriptors"];
    if (!d.is_array() || d.size() > 3) return bad("descriptors: an array of at most 3 strings");
    for (const auto& s : d) {
      if (!s.is_string() || !valid_descriptor_key(s.get<std::string>())) return bad("descriptors: not a descriptor key");
      m.descriptors.push_back(s.get<std::string>());
    }
  }
  if (j.contains("external_mounts")) {
    const auto& e = j["external_mounts"];
    if (!e.is_array() || e.size() > 1024) return bad("external_mounts: an array of at most 1024 entries");
    for (const auto& x : e) {
      if (!x.is_object() || !x.contains("key") || !x["key"].is_string() || !x.contains("restore") ||
          !x["restore"].is_string())
        return bad("external_mounts: each entry has a key and restore string");
      std::string key = x["key"].get<std::string>(), what = x["restore"].get<std::string>();
      // Keys are absolute paths inside the container; CRIU's option syntax ends a key at ']'.
      if (key.empty() || key[0] != '/' || key.size() > 4096 || key.find_first_of("]\n") != std::string::npos)
        return bad(fmt::format("external_mounts: bad key \"{}\"", key));
      if (what != "null" && what != "bind") return bad(fmt::format("external_mounts: bad restore \"{}\"", what));
      m.external_mounts.emplace_back(std::move(key), std::move(what));
    }
  }
  if (j.contains("external_netns")) {
    if (!j["external_netns"].is_boolean()) return bad("external_netns: not a boolean");
    m.external_netns = j["external_netns"].get<bool>();
  }
  return m;
}

CheckpointMeta plan_checkpoint(const Spec& spec, const std::vector<std::string>& descriptors,
                               const std::function<bool(const std::string&)>& is_file) {
  CheckpointMeta m;
  m.descriptors = descriptors;
  for (const auto& mnt : spec.mounts)
    if (is_bind(mnt)) m.external_mounts.emplace_back(mnt.destination, "bind");
  if (spec.linux) {
    // A masked file is /dev/null bound over it (a masked directory is a tmpfs CRIU dumps).
    for (const auto& p : spec.linux->masked_paths)
      if (is_file(p)) m.external_mounts.emplace_back(p, "null");
    const Namespace* net = spec.find_namespace("network");
    m.external_netns = net && !net->path.empty();
  }
  return m;
}

std::vector<std::string> criu_dump_argv(const std::string& criu, pid_t pid, const std::string& rootfs,
                                        const CheckpointOptions& o, const CheckpointMeta& meta, uint64_t netns_inode) {
  std::vector<std::string> argv{criu, "dump", "--tree", std::to_string(pid), "--root", rootfs, "--log-file", "dump.log"};
  common_flags(argv, o.criu);
  if (o.leave_running) argv.push_back("--leave-running");
  if (!o.freeze_cgroup.empty()) argv.insert(argv.end(), {"--freeze-cgroup", o.freeze_cgroup});
  for (const auto& [key, what] : meta.external_mounts) argv.insert(argv.end(), {"--external", "mnt[" + key + "]:" + key});
  if (netns_inode) argv.insert(argv.end(), {"--external", fmt::format("net[{}]:{}", netns_inode, kExternalNetnsKey)});
  std::vector<std::string> seen;
  for (const auto& key : meta.descriptors) {
    if (key.rfind("file[", 0) != 0 || std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    argv.insert(argv.end(), {"--external", key});
  }
  return argv;
}

std::vector<std::string> criu_restore_argv(const std::string& criu, const std::string& rootfs, const Spec& spec,
                                           const RestoreOptions& o, const CheckpointMeta& meta, int netns_fd,
                                           const std::string& pid_file) {
  std::vector<std::string> argv{criu,       "restore",    "--root",   rootfs, "--log-file", "restore.log",
                                "--restore-detached", "--pidfile", pid_file};
  common_flags(argv, o.criu);
  for (const auto& [key, what] : meta.external_mounts) {
    std::string source = "/dev/null";
    if (what == "bind") {
      source.clear();
      for (const auto& m : spec.mounts)
        if (m.destination == key) source = m.source[0] == '/' ? m.source : o.bundle + "/" + m.source;
      if (source.empty()) continue;  // the bundle lost that mount: CRIU names the missing key
    }
    argv.insert(argv.end(), {"--external", "mnt[" + key + "]:" + source});
  }
  // One fd per key: stdout and stderr are often the same pipe.
  std::vector<std::string> seen;
  for (size_t i = 0; i < meta.descriptors.size() && i < 3; ++i) {
    const auto& key = meta.descriptors[i];
    if (key.empty() || std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    argv.insert(argv.end(), {"--inherit-fd", fmt::format("fd[{}]:{}", i, key)});
  }
  if (netns_fd >= 0) argv.insert(argv.end(), {"--inherit-fd", fmt::format("fd[{}]:{}", netns_fd, kExternalNetnsKey)});
  return argv;
}

}  // namespace vessel::runtime
