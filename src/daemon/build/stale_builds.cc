// Leftovers of builds a vesseld crash cut short (builder.h): nothing of them is an image, so all
// of it goes — the RUN containers first (they hold the overlays), then the mounts, deepest first,
// then the scratch directories.
#include <dirent.h>
#include <sys/mount.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "base/fd.h"
#include "base/log.h"
#include "daemon/build/builder.h"
#include "daemon/images/image_store.h"
#include "daemon/instances/container_backend.h"

namespace vessel::daemon::build {

namespace {

std::vector<std::string> entries_starting_with(const std::string& dir, std::string_view prefix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d))
    if (std::string_view(e->d_name).starts_with(prefix)) out.push_back(e->d_name);
  ::closedir(d);
  return out;
}

// Mount points under `prefix` (from /proc/self/mountinfo), deepest first.
std::vector<std::string> mounts_under(const std::string& prefix) {
  std::vector<std::string> out;
  auto text = read_file("/proc/self/mountinfo");
  if (!text) return out;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, devs, root, point;
    fields >> id >> parent >> devs >> root >> point;
    if (point.starts_with(prefix)) out.push_back(point);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return out;
}

}  // namespace

void remove_stale_builds(const BuildServices& services, const std::string& runtime_root) {
  for (const auto& id : entries_starting_with(runtime_root, "build+")) {
    InstanceSpec spec;
    spec.name = id;
    InstanceContext ctx{spec, services.images.dir() + "/tmp/stale-build", "/dev/null"};
    services.containers.cleanup(ctx);  // the runtime's delete --force: the process and its cgroup
    log::info("removed the RUN container {} of a build cut short", id);
  }
  std::string tmp = services.images.dir() + "/tmp";
  for (const auto& name : entries_starting_with(tmp, "build-")) {
    std::string dir = tmp + "/" + name;
    for (const auto& point : mounts_under(dir + "/")) ::umount2(point.c_str(), MNT_DETACH);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    log::info("removed {}, the scratch directory of a build cut short", dir);
  }
}

}  // namespace vessel::daemon::build
