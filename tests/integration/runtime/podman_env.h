// podman (Debian's 4.3) with a private storage and config under a test's directory, driving
// vessel-runtime (settings from /work/shared/peers/containers/clients_smoke.sh): the command
// prefix to run it, and an image imported from a tarball of the test's busybox rootfs.
#pragma once

#include <fmt/format.h>
#include <sys/resource.h>

#include "bundle.h"

namespace vessel::runtime::test {

inline constexpr const char* kPodmanImage = "localhost/vessel-busybox:test";

// "ENV podman --runtime vessel-runtime", with `cgroup_manager` (cgroupfs or systemd).
inline std::string podman_command(const std::string& dir, const std::string& cgroup_manager) {
  rlimit nofile, nproc;
  getrlimit(RLIMIT_NOFILE, &nofile);
  getrlimit(RLIMIT_NPROC, &nproc);
  unsigned long np = nproc.rlim_max == RLIM_INFINITY || nproc.rlim_max > 32768 ? 32768 : nproc.rlim_max;
  std::ofstream(dir + "/storage.conf") << fmt::format(
      "[storage]\ndriver = \"vfs\"\nrunroot = \"{0}/run\"\ngraphroot = \"{0}/graph\"\n", dir);
  std::ofstream(dir + "/containers.conf") << fmt::format(
      "[containers]\nnetns = \"none\"\ndefault_ulimits = [\"nofile={1}:{1}\", \"nproc={2}:{2}\"]\n"
      "[engine]\ncgroup_manager = \"{3}\"\nevents_logger = \"file\"\n"
      "events_logfile_path = \"{0}/events.log\"\ntmp_dir = \"{0}/tmp\"\n",
      dir, nofile.rlim_max, np, cgroup_manager);
  std::string env = fmt::format("env CONTAINERS_CONF={0}/containers.conf CONTAINERS_STORAGE_CONF={0}/storage.conf", dir);
  return env + " podman --runtime " + VESSEL_RUNTIME_BIN;
}

// Imports the rootfs as kPodmanImage; `prefix` goes before the command (nsenter ...).
inline Output podman_import(const std::string& podman, const std::string& dir, const std::string& rootfs,
                            const std::string& prefix = "") {
  Output tar = sh(fmt::format("tar -C {} -cf {}/rootfs.tar .", rootfs, dir));
  if (tar.status != 0) return tar;
  return sh(fmt::format("{}{} import {}/rootfs.tar {}", prefix, podman, dir, kPodmanImage));
}

// Removes every container and image and unmounts podman's run and graph directories.
inline void podman_reset(const std::string& podman, const std::string& dir, const std::string& prefix = "") {
  sh(prefix + podman + " rm -af -t 0");
  sh(prefix + podman + " system reset -f");
  sh(fmt::format("{}umount -R {}/run {}/graph 2>/dev/null", prefix, dir, dir));
}

}  // namespace vessel::runtime::test
