// podman (Debian's 4.3, conmon) driving vessel-runtime with --runtime: an image imported from a
// tarball of the busybox rootfs; run, exec, pause, unpause, stop, rm. Private storage and config
// in a temp dir (settings from /work/shared/peers/containers/clients_smoke.sh).
#include <fmt/format.h>

#include "podman_env.h"

namespace vessel::runtime::test {

TEST_F(RuntimeTest, PodmanRunExecPauseStopRemove) {
  if (sh("command -v podman").status != 0) FAIL() << "podman is not installed (scripts/packages.txt)";
  std::string podman = podman_command(dir_, "cgroupfs");
  Output imp = podman_import(podman, dir_, rootfs_);
  ASSERT_EQ(imp.status, 0) << imp.err;
  std::string name = "vrt-" + id_;
  Output r = sh(podman + " run --rm " + std::string(kPodmanImage) + " /bin/echo hello-from-podman");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hello-from-podman\n");
  Output d = sh(podman + " run -d --name " + name + " " + std::string(kPodmanImage) + " /bin/sleep 1000");
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
  Output code = sh(podman + " run --rm " + std::string(kPodmanImage) + " /bin/sh -c 'exit 9'");
  EXPECT_EQ(code.status, 9);
  podman_reset(podman, dir_);
}

}  // namespace vessel::runtime::test
