// podman (Debian's 4.3, conmon) driving vessel-runtime with --runtime: an image imported from a
// tarball of the busybox rootfs; run, exec, pause, unpause, stop, rm. Private storage and config
// in a temp dir (settings from /work/shared/peers/containers/clients_smoke.sh).
#include <fmt/format.h>
#include <sys/resource.h>

#include "bundle.h"

namespace vessel::runtime::test {

TEST_F(RuntimeTest, PodmanRunExecPauseStopRemove) {
  if (sh("command -v podman").status != 0) FAIL() << "podman is not installed (scripts/packages.txt)";
  rlimit nofile, nproc;
  getrlimit(RLIMIT_NOFILE, &nofile);
  getrlimit(RLIMIT_NPROC, &nproc);
  unsigned long np = nproc.rlim_max == RLIM_INFINITY || nproc.rlim_max > 32768 ? 32768 : nproc.rlim_max;
  std::ofstream(dir_ + "/storage.conf") << fmt::format(
      "[storage]\ndriver = \"vfs\"\nrunroot = \"{0}/run\"\ngraphroot = \"{0}/graph\"\n", dir_);
  std::ofstream(dir_ + "/containers.conf") << fmt::format(
      "[containers]\nnetns = \"none\"\ndefault_ulimits = [\"nofile={1}:{1}\", \"nproc={2}:{2}\"]\n"
      "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
      "events_logfile_path = \"{0}/events.log\"\ntmp_dir = \"{0}/tmp\"\n",
      dir_, nofile.rlim_max, np);
  std::string env = fmt::format("CONTAINERS_CONF={0}/containers.conf CONTAINERS_STORAGE_CONF={0}/storage.conf", dir_);
  std::string podman = env + " podman --runtime " + VESSEL_RUNTIME_BIN;
  ASSERT_EQ(sh(fmt::format("tar -C {} -cf {}/rootfs.tar .", rootfs_, dir_)).status, 0);
  Output imp = sh(fmt::format("{} import {}/rootfs.tar localhost/vessel-busybox:test", podman, dir_));
  ASSERT_EQ(imp.status, 0) << imp.err;
  std::string name = "vrt-" + id_;
  Output r = sh(podman + " run --rm localhost/vessel-busybox:test /bin/echo hello-from-podman");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hello-from-podman\n");
  Output d = sh(podman + " run -d --name " + name + " localhost/vessel-busybox:test /bin/sleep 1000");
  ASSERT_EQ(d.status, 0) << d.err;
  Output e = sh(podman + " exec " + name + " /bin/sh -c 'echo $((1+2))'");
  EXPECT_EQ(e.out, "3\n") << e.err;
  EXPECT_EQ(sh(podman + " pause " + name).status, 0);
  EXPECT_EQ(sh(podman + " inspect -f '{{.State.Status}}' " + name).out, "paused\n");
  EXPECT_EQ(sh(podman + " unpause " + name).status, 0);
  EXPECT_EQ(sh(podman + " inspect -f '{{.State.Status}}' " + name).out, "running\n");
  Output st = sh(podman + " stop -t 1 " + name);
  EXPECT_EQ(st.status, 0) << st.err;
  EXPECT_EQ(sh(podman + " inspect -f '{{.State.Status}}' " + name).out, "exited\n");
  EXPECT_EQ(sh(podman + " rm " + name).status, 0);
  Output code = sh(podman + " run --rm localhost/vessel-busybox:test /bin/sh -c 'exit 9'");
  EXPECT_EQ(code.status, 9);
  sh(podman + " rm -af -t 0");
  sh(podman + " system reset -f");
  sh(fmt::format("umount -R {}/run {}/graph 2>/dev/null", dir_, dir_));
}

}  // namespace vessel::runtime::test
