#include "jailer/jail_cgroup.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <functional>
#include <map>
#include <sstream>

#include "base/fd.h"

namespace vessel::jailer {
namespace {

struct CgroupMount {
  std::string point;
  std::string fstype;  // cgroup or cgroup2
  std::string options; // the super options (controllers of a v1 hierarchy)
};

// The cgroup mounts of /proc/self/mountinfo.
std::vector<CgroupMount> cgroup_mounts() {
  std::vector<CgroupMount> out;
  auto text = read_file("/proc/self/mountinfo");
  if (!text) return out;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    CgroupMount m;
    std::string source;
    tail >> m.fstype >> source >> m.options;
    m.point = point;
    if (m.fstype == "cgroup" || m.fstype == "cgroup2") out.push_back(m);
  }
  return out;
}

bool has_option(const std::string& options, const std::string& want) {
  std::istringstream s(options);
  for (std::string o; std::getline(s, o, ',');)
    if (o == want) return true;
  return false;
}

int detect_version() {
  struct statfs fs {};
  if (::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return 2;
  return 1;
}

Result<void> write_to(const std::string& dir, const std::string& file, const std::string& value) {
  if (auto w = write_file(dir + "/" + file, value); !w)
    return Unexpected(std::move(w.error()).add_context(fmt::format("cgroup: write '{}' to {}/{}", value, dir, file)));
  return {};
}

// Creates root/rel level by level; `each_level(dir)` runs on every new directory's parent first.
Result<std::string> make_cgroup(const std::string& root, const std::string& rel,
                                const std::function<Result<void>(const std::string& parent, const std::string& dir)>& each_level) {
  std::string dir = root;
  std::istringstream parts(rel);
  for (std::string part; std::getline(parts, part, '/');) {
    if (part.empty()) continue;
    std::string next = dir + "/" + part;
    if (each_level) TRY(each_level(dir, next));
    if (::mkdir(next.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno("cgroup: create {}", next);
    dir = next;
  }
  return dir;
}

// v1 cpuset: a new cgroup starts with no CPUs and no memory nodes; it gets its parent's.
Result<void> inherit_cpuset(const std::string& parent, const std::string& dir) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    auto mine = read_file(dir + "/" + file);
    if (mine && mine->find_first_not_of(" \n") != std::string::npos) continue;
    auto theirs = read_file(parent + "/" + file);
    if (theirs) TRY(write_to(dir, file, *theirs));
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> join_cgroup(const JailOptions& o, pid_t pid) {
  std::vector<std::string> used;
  if (o.cgroups.empty()) return used;
  int version = o.cgroup_version ? o.cgroup_version : detect_version();
  std::string rel = (o.parent_cgroup.empty() ? o.exec_name() : o.parent_cgroup) + "/" + o.id;
  // FILE=VALUE grouped by controller (the part of FILE before the first '.').
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> by_controller;
  for (const auto& c : o.cgroups) {
    auto eq = c.find('=');
    std::string file = c.substr(0, eq);
    by_controller[file.substr(0, file.find('.'))].emplace_back(file, c.substr(eq + 1));
  }
  auto mounts = cgroup_mounts();
  std::string pid_text = std::to_string(pid);
  if (version == 2) {
    const CgroupMount* unified = nullptr;
    for (const auto& m : mounts)
      if (m.fstype == "cgroup2") unified = unified ? unified : &m;
    if (!unified) return fail(ENOENT, "cgroup v2: no cgroup2 file system is mounted (see /proc/self/mountinfo)");
    std::string enable;
    for (const auto& [controller, files] : by_controller)
      if (controller != "cgroup") enable += (enable.empty() ? "+" : " +") + controller;
    auto enable_in_parent = [&](const std::string& parent, const std::string&) -> Result<void> {
      if (enable.empty()) return {};
      return write_to(parent, "cgroup.subtree_control", enable);
    };
    std::string dir = TRY(make_cgroup(unified->point, rel, enable_in_parent));
    for (const auto& [controller, files] : by_controller)
      for (const auto& [file, value] : files) TRY(write_to(dir, file, value));
    TRY(write_to(dir, "cgroup.procs", pid_text));
    used.push_back(dir);
    return used;
  }
  for (const auto& [controller, files] : by_controller) {
    const CgroupMount* hierarchy = nullptr;
    for (const auto& m : mounts)
      if (m.fstype == "cgroup" && has_option(m.options, controller)) hierarchy = &m;
    if (!hierarchy) return fail(ENOENT, "cgroup v1: no hierarchy has the '{}' controller (from --cgroup {}=...)", controller, files[0].first);
    std::string dir = TRY(make_cgroup(hierarchy->point, rel, {}));
    if (controller == "cpuset") {
      // Every level from the hierarchy's root down needs CPUs and memory nodes before a task may join.
      std::string at = hierarchy->point;
      std::istringstream parts(rel);
      for (std::string part; std::getline(parts, part, '/');) {
        if (part.empty()) continue;
        TRY(inherit_cpuset(at, at + "/" + part));
        at += "/" + part;
      }
    }
    for (const auto& [file, value] : files) TRY(write_to(dir, file, value));
    TRY(write_to(dir, "cgroup.procs", pid_text));
    used.push_back(dir);
  }
  return used;
}

}  // namespace vessel::jailer
