// --userns=auto (docs/daemon/userns.md): each container gets a private range of 65536 host ids
// from vesseld's pool; its root is root inside and an unprivileged uid on the host, the image's
// files are root's inside (idmapped lower layers), its writes land on the host as the high uid,
// two containers never share ids, and a deleted container's range is given out again, also by a
// restarted vesseld that must not hand out what live containers hold.
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "daemon_fixture.h"

namespace vessel::test {
namespace {

constexpr uint32_t kPoolStart = 2000000;
constexpr uint32_t kRange = 65536;

class ContainerUserns : public ::testing::Test {
 protected:
  void SetUp() override {
    // The remapped root must traverse the state dir's parents, as under /var/lib.
    ASSERT_EQ(::chmod(tmp.path.c_str(), 0711), 0);
    rootfs = tmp.path + "/rootfs";
    make_busybox_rootfs(rootfs);
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  CliResult start(const std::string& name,
                  const std::vector<std::string>& flags = {"--userns", "auto"}) {
    // 32 MiB each: admission control must not be what stops the fourth one on a small host.
    std::vector<std::string> args{"run", "--name", name, "--memory", "32M", "--rootfs", rootfs};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"--", "/bin/sleep", "1000"});
    return daemon.vessel(args);
  }
  std::string exec(const std::string& name, const std::string& script) {
    auto r = daemon.vessel({"exec", name, "--", "/bin/sh", "-c", script});
    EXPECT_EQ(r.status, 0) << name << ": " << script << ": " << r.err << r.out;
    return r.out;
  }
  uint32_t range_of(const std::string& name) {
    auto j = daemon.vessel_json({"inspect", name});
    EXPECT_TRUE(j.contains("userns_range")) << j.dump();
    if (!j.contains("userns_range")) return 0;
    EXPECT_EQ(j["userns_range"].value("count", 0u), kRange);
    EXPECT_EQ(j["userns_range"].value("gid", 0u), j["userns_range"].value("uid", 1u));
    return j["userns_range"].value("uid", 0u);
  }
  // The host's owner uid:gid of a path under the instance's upper layer.
  std::string host_owner(const std::string& name, const std::string& rel) {
    struct stat st {};
    std::string path = daemon.state_dir() + "/instances/" + name + "/upper/" + rel;
    if (::lstat(path.c_str(), &st) != 0) return "missing " + path;
    return std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
  }
  TempDir tmp;
  std::string rootfs;
  Daemon daemon{tmp.path,
                {"--userns-pool", std::to_string(kPoolStart) + ":" + std::to_string(3 * kRange)}};
};

TEST_F(ContainerUserns, RootInsideIsAHighUidOnTheHostAndTheImageIsRootsInside) {
  ASSERT_EQ(start("a").status, 0) << daemon.log();
  ASSERT_EQ(range_of("a"), kPoolStart);
  EXPECT_EQ(exec("a", "cat /proc/self/uid_map /proc/self/gid_map | busybox tr -s ' '"),
            fmt::format(" 0 {} {}\n 0 {} {}\n", kPoolStart, kRange, kPoolStart, kRange));
  EXPECT_EQ(exec("a", "id -u; id -g"), "0\n0\n");
  // The image's files (host root's) are root's inside, not nobody's.
  EXPECT_EQ(exec("a", "busybox stat -c %u:%g / /bin/busybox /etc/passwd"), "0:0\n0:0\n0:0\n");
  // Writes work: a new file, and a copy-up of an image file owned by root.
  EXPECT_EQ(
      exec("a",
           "echo made > /made-inside && echo x:x:1:1::/:/bin/sh >> /etc/passwd && "
           "cat /made-inside && busybox stat -c %u /made-inside && busybox tail -n 1 /etc/passwd"),
      "made\n0\nx:x:1:1::/:/bin/sh\n");
  // On the host both are the range's first uid, never root.
  EXPECT_EQ(host_owner("a", "made-inside"), fmt::format("{}:{}", kPoolStart, kPoolStart));
  EXPECT_EQ(host_owner("a", "etc/passwd"), fmt::format("{}:{}", kPoolStart, kPoolStart));
  // The container's process, seen from the host.
  pid_t pid = daemon.vessel_json({"inspect", "a"}).value("pid", 0);
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line, uid_line;
  while (std::getline(status, line))
    if (line.rfind("Uid:", 0) == 0) uid_line = line;
  EXPECT_EQ(uid_line, fmt::format("Uid:\t{0}\t{0}\t{0}\t{0}", kPoolStart));
  // The path to the rootfs opens to the range and nothing else does: STATE and STATE/instances
  // can be traversed, not listed; the database and the images stay private; the instance's
  // directory is the range's group's to traverse.
  auto mode = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? fmt::format("{:o} {}", st.st_mode & 07777, st.st_gid)
                                          : "missing " + path;
  };
  const std::string& state = daemon.state_dir();
  EXPECT_EQ(mode(state), "711 0");
  EXPECT_EQ(mode(state + "/instances"), "711 0");
  EXPECT_EQ(mode(state + "/vessel.db"), "600 0");
  EXPECT_EQ(mode(state + "/instances/a"), fmt::format("710 {}", kPoolStart));
  EXPECT_EQ(mode(state + "/instances/a/upper"), fmt::format("755 {}", kPoolStart));
  // A host-mode container (the default) still runs with the host's ids.
  ASSERT_EQ(start("h", {}).status, 0);
  EXPECT_EQ(exec("h", "cat /proc/self/uid_map | busybox tr -s ' '"), " 0 0 4294967295\n");
  EXPECT_FALSE(daemon.vessel_json({"inspect", "h"}).contains("userns_range"));
}

TEST_F(ContainerUserns, RangesAreDisjointFreedOnDeleteAndKeptAcrossARestart) {
  ASSERT_EQ(start("a").status, 0) << daemon.log();
  ASSERT_EQ(start("b").status, 0) << daemon.log();
  EXPECT_EQ(range_of("a"), kPoolStart);
  EXPECT_EQ(range_of("b"), kPoolStart + kRange);
  EXPECT_EQ(exec("b", "cat /proc/self/uid_map | busybox tr -s ' '"),
            fmt::format(" 0 {} {}\n", kPoolStart + kRange, kRange));
  // Deleting a frees its range: the next container gets it. Its mounts (the overlay and the
  // idmapped layers) are gone with it.
  ASSERT_EQ(daemon.vessel({"rm", "-f", "a"}).status, 0);
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  while (std::getline(mounts, line))
    EXPECT_EQ(line.find(daemon.state_dir() + "/instances/a/"), std::string::npos) << line;
  ASSERT_EQ(start("c").status, 0) << daemon.log();
  EXPECT_EQ(range_of("c"), kPoolStart);
  // A restarted vesseld knows what b and c hold (its store): the next one gets the third range.
  daemon.stop();
  ASSERT_TRUE(daemon.start()) << daemon.log();
  EXPECT_EQ(daemon.vessel_json({"inspect", "b"}).value("state", ""), "running");
  ASSERT_EQ(start("d").status, 0) << daemon.log();
  EXPECT_EQ(range_of("d"), kPoolStart + 2 * kRange);
  EXPECT_EQ(exec("d", "id -u; echo ok > /w; cat /w"), "0\nok\n");
  // The pool (three ranges) is full: refused before anything runs.
  auto full = start("e");
  EXPECT_EQ(full.status, 1);
  EXPECT_NE(full.err.find("no free user-namespace range"), std::string::npos) << full.err;
  EXPECT_EQ(daemon.vessel({"inspect", "e"}).status, 1) << "the refused create left no instance";
  // A stopped container keeps its range (its upper layer's files are that range's).
  ASSERT_EQ(daemon.vessel({"stop", "--timeout", "0", "c"}).status, 0);
  EXPECT_EQ(range_of("c"), kPoolStart);
  ASSERT_EQ(daemon.vessel({"start", "c"}).status, 0) << daemon.log();
  EXPECT_EQ(exec("c", "id -u"), "0\n");
  // A vesseld started without the pool still starts a container that holds a range (its state
  // directory stays open to the range).
  ASSERT_EQ(daemon.vessel({"stop", "--timeout", "0", "c"}).status, 0);
  daemon.stop();
  {
    Daemon without{tmp.path};
    ASSERT_TRUE(without.start()) << without.log();
    auto started = without.vessel({"start", "c"});
    EXPECT_EQ(started.status, 0) << started.err << without.log();
    auto id = without.vessel({"exec", "c", "--", "/bin/sh", "-c", "cat /proc/self/uid_map | busybox tr -s ' '"});
    EXPECT_EQ(id.out, fmt::format(" 0 {} {}\n", kPoolStart, kRange)) << id.err;
    without.stop();  // leaves c running for the fixture's daemon to delete
  }
  ASSERT_TRUE(daemon.start()) << daemon.log();
}

// Without a pool (no --userns-pool, no 'vessel' in /etc/subuid), auto is refused before anything
// is made, with the way out in the hint.
TEST(ContainerUsernsWithoutAPool, AutoIsRefusedWithAHint) {
  TempDir tmp;
  // `none`: even where /etc/subuid lends ids to `vessel`, this daemon has no pool.
  Daemon daemon{tmp.path, {"--userns-pool", "none"}};
  ASSERT_TRUE(daemon.start()) << daemon.log();
  std::string rootfs = tmp.path + "/rootfs";
  make_busybox_rootfs(rootfs);
  auto r = daemon.vessel(
      {"run", "--name", "x", "--userns", "auto", "--rootfs", rootfs, "--", "/bin/true"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("vesseld has no pool of ids"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--userns-pool"), std::string::npos) << r.err;
  EXPECT_EQ(daemon.vessel({"inspect", "x"}).status, 1);
  auto bad = daemon.vessel(
      {"run", "--name", "y", "--userns", "keep-id", "--rootfs", rootfs, "--", "/bin/true"});
  EXPECT_NE(bad.status, 0);
}

}  // namespace
}  // namespace vessel::test
