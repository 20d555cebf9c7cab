// Volumes end to end (docs/daemon/volumes.md): CLI flags -> vesseld -> the OCI runtime's mounts ->
// the kernel. Binds see the host's files (read-only when asked), named volumes outlive their
// containers and are refused removal while used, anonymous ones go with rm -v and --rm, tmpfs
// mounts have their size.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon_fixture.h"

namespace vessel::test {
namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class Volumes : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs = tmp.path + "/rootfs";
    make_busybox_rootfs(rootfs);
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  // `vessel run --wait` of a shell script in a busybox container with `flags`: its exit status.
  CliResult run_script(const std::string& name, std::vector<std::string> flags, const std::string& script) {
    std::vector<std::string> args{"run", "--wait", "--name", name, "--rootfs", rootfs};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"--", "/bin/sh", "-c", script});
    return daemon.vessel(args);
  }
  TempDir tmp;
  std::string rootfs;
  Daemon daemon{tmp.path};
};

TEST_F(Volumes, ABindSeesAndChangesTheHostDirectoryAndReadOnlyHolds) {
  std::string work = tmp.path + "/work";
  ASSERT_EQ(::mkdir(work.c_str(), 0755), 0);
  std::ofstream(work + "/in.txt") << "from the host\n";
  auto r = run_script("bind", {"-v", work + ":/work", "--volume", work + ":/ro:ro"},
                      "if touch /ro/x 2>/dev/null; then exit 9; fi; cp /work/in.txt /work/out.txt");
  EXPECT_EQ(r.status, 0) << r.err << daemon.vessel({"logs", "bind"}).out << daemon.log();
  EXPECT_EQ(read_text(work + "/out.txt"), "from the host\n");
  EXPECT_EQ(::access((work + "/x").c_str(), F_OK), -1) << "the read-only bind was written";
}

TEST_F(Volumes, ANamedVolumeKeepsItsDataAcrossContainersAndIsKeptWhileUsed) {
  auto w = run_script("writer", {"-v", "data:/data"}, "echo kept > /data/f");
  ASSERT_EQ(w.status, 0) << w.err << daemon.log();
  auto list = daemon.vessel_json({"volume", "ls", "--json"});
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["name"], "data");
  EXPECT_EQ(list[0]["used_by"], json::Json::array({"writer"}));
  auto refused = daemon.vessel({"volume", "rm", "data"});
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("volume data is in use by writer"), std::string::npos) << refused.err;

  auto r = run_script("reader", {"--mount", "type=volume,source=data,target=/d,readonly"},
                      "test \"$(cat /d/f)\" = kept || exit 7; if touch /d/g 2>/dev/null; then exit 9; fi");
  EXPECT_EQ(r.status, 0) << r.err << daemon.vessel({"logs", "reader"}).out;

  ASSERT_EQ(daemon.vessel({"rm", "writer", "reader"}).status, 0);
  ASSERT_EQ(daemon.vessel({"volume", "create", "--label", "k=v", "spare"}).status, 0);
  auto pruned = daemon.vessel_json({"volume", "prune", "--json"});
  EXPECT_EQ(pruned["deleted"], json::Json::array({"data", "spare"})) << pruned.dump();
  EXPECT_GT(pruned.value("space_reclaimed", uint64_t{0}), 0u);
  EXPECT_EQ(daemon.vessel_json({"volume", "ls", "--json"}), json::Json::array());
}

TEST_F(Volumes, AnAnonymousVolumeIsNamedKeptAcrossStartsAndGoesWithRmV) {
  auto volume_of = [&](const std::string& instance) {
    std::vector<std::string> names;
    for (const auto& v : daemon.vessel_json({"volume", "ls", "--json"}))
      if (v["used_by"] == json::Json::array({instance})) names.push_back(v.value("name", ""));
    return names;
  };
  // -v /data: a volume vesseld names; the same one at every start of the instance.
  auto first = run_script("anon", {"-v", "/data"}, "echo run >> /data/runs; cat /data/runs");
  ASSERT_EQ(first.status, 0) << first.err << daemon.log();
  auto named = volume_of("anon");
  ASSERT_EQ(named.size(), 1u) << daemon.vessel({"volume", "ls"}).out;
  EXPECT_EQ(named[0].size(), 32u) << named[0];
  auto spec_mounts = daemon.vessel_json({"inspect", "anon"})["mounts"];
  EXPECT_EQ(spec_mounts, (json::Json::array({{{"type", "volume"}, {"source", named[0]}, {"target", "/data"}, {"anonymous", true}}})));
  ASSERT_EQ(daemon.vessel({"start", "anon"}).status, 0);
  EXPECT_EQ(daemon.vessel({"wait", "anon"}).out, "0\n");
  EXPECT_EQ(daemon.vessel({"logs", "anon"}).out, "run\nrun\nrun\n") << "the second start saw the first one's file";
  // A plain rm leaves it (Docker's rule); rm -v takes it.
  ASSERT_EQ(run_script("anon2", {"--mount", "type=volume,target=/cache"}, "true").status, 0);
  auto second = volume_of("anon2");
  ASSERT_EQ(second.size(), 1u);
  ASSERT_EQ(daemon.vessel({"rm", "anon"}).status, 0);
  EXPECT_EQ(daemon.vessel({"volume", "inspect", named[0]}).status, 0) << "rm without -v keeps it";
  ASSERT_EQ(daemon.vessel({"rm", "-v", "anon2"}).status, 0);
  EXPECT_EQ(daemon.vessel({"volume", "inspect", second[0]}).status, 1) << "rm -v removes it";
  // --rm removes its anonymous volumes, never a named one.
  auto gone = daemon.vessel({"run", "--rm", "--wait", "--name", "brief", "--rootfs", rootfs, "-v", "/scratch", "-v",
                             "named:/named", "--", "/bin/true"});
  ASSERT_EQ(gone.status, 0) << gone.err;
  ASSERT_TRUE(eventually([&] { return daemon.vessel({"inspect", "brief"}).status != 0; }));
  std::vector<std::string> left;
  for (const auto& v : daemon.vessel_json({"volume", "ls", "--json"})) left.push_back(v.value("name", ""));
  std::sort(left.begin(), left.end());
  std::vector<std::string> expected{named[0], "named"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(left, expected);
}

// An image's VOLUME becomes an anonymous volume at create, unless a mount of the run covers it, and
// an empty volume gets the image's files there (owner and mode included) at the start, as Docker
// does; a volume that has files keeps them.
TEST_F(Volumes, AnImagesVolumesAreAnonymousVolumesFilledFromTheImage) {
  std::string dir = tmp.path + "/img";
  fs::create_directories(dir + "/rootfs/data/sub");
  std::ofstream(dir + "/rootfs/data/sub/seed") << "from-the-image\n";
  ASSERT_EQ(::chown((dir + "/rootfs/data").c_str(), 1234, 1234), 0);
  ASSERT_EQ(::chmod((dir + "/rootfs/data").c_str(), 0750), 0);
  std::string archive = make_busybox_image_archive(dir, R"({"Cmd":["/bin/sh"],"Volumes":{"/data":{},"/cache/":{}}})");
  ASSERT_EQ(daemon.vessel({"image", "import", "-q", archive, "--name", "vols"}).status, 0) << daemon.log();
  auto first = daemon.vessel({"run", "--wait", "--name", "v1", "vols", "--", "/bin/sh", "-c",
                              "cat /data/sub/seed; stat -c '%u:%g %a' /data; cat /data/own 2>/dev/null; echo mine > /data/own; ls /cache"});
  ASSERT_EQ(first.status, 0) << first.err << daemon.log();
  EXPECT_EQ(daemon.vessel({"logs", "v1"}).out, "from-the-image\n1234:1234 750\n");
  auto mounts = daemon.vessel_json({"inspect", "v1"})["mounts"];
  ASSERT_EQ(mounts.size(), 2u) << mounts.dump();
  std::vector<std::string> targets;
  for (const auto& m : mounts) {
    EXPECT_EQ(m.value("type", ""), "volume");
    EXPECT_TRUE(m.value("anonymous", false)) << m.dump();
    targets.push_back(m.value("target", ""));
  }
  std::sort(targets.begin(), targets.end());
  EXPECT_EQ(targets, (std::vector<std::string>{"/cache", "/data"}));
  // A second start finds the volume filled: nothing is copied again, what the container wrote stays.
  ASSERT_EQ(daemon.vessel({"start", "v1"}).status, 0);
  EXPECT_EQ(daemon.vessel({"wait", "v1"}).out, "0\n");
  EXPECT_EQ(daemon.vessel({"logs", "v1"}).out, "from-the-image\n1234:1234 750\nfrom-the-image\n1234:1234 750\nmine\n");
  // -v NAME:/data covers the image's /data: one anonymous volume (/cache), and the named one is filled.
  auto covered = daemon.vessel({"run", "--wait", "--name", "v2", "-v", "kept:/data", "vols", "--", "/bin/cat", "/data/sub/seed"});
  ASSERT_EQ(covered.status, 0) << covered.err;
  EXPECT_EQ(daemon.vessel({"logs", "v2"}).out, "from-the-image\n");
  EXPECT_EQ(daemon.vessel_json({"inspect", "v2"})["mounts"].size(), 2u);
  auto kept = daemon.vessel_json({"volume", "inspect", "kept"});
  ASSERT_TRUE(kept.is_array() && kept.size() == 1u) << kept.dump();
  EXPECT_EQ(read_text(kept[0].value("mountpoint", "") + "/sub/seed"), "from-the-image\n");
  ASSERT_EQ(daemon.vessel({"rm", "-v", "v1"}).status, 0);
  ASSERT_EQ(daemon.vessel({"rm", "-v", "v2"}).status, 0);
  std::vector<std::string> left;
  for (const auto& v : daemon.vessel_json({"volume", "ls", "--json"})) left.push_back(v.value("name", ""));
  EXPECT_EQ(left, std::vector<std::string>{"kept"}) << "rm -v took the anonymous ones";
}

TEST_F(Volumes, ATmpfsHasItsSizeAndModeAndGoesWithTheContainer) {
  auto r = run_script("scratch", {"--tmpfs", "/scratch:size=2m,mode=700"},
                      "grep -q '^tmpfs /scratch tmpfs .*size=2048k' /proc/mounts || exit 7; "
                      "test \"$(stat -c %a /scratch)\" = 700 || exit 8; echo x > /scratch/f");
  EXPECT_EQ(r.status, 0) << r.err << daemon.vessel({"logs", "scratch"}).out;
}

TEST_F(Volumes, AMissingBindSourceIsRefusedAndNothingIsLeft) {
  auto r = daemon.vessel({"run", "--name", "nosrc", "--rootfs", rootfs, "-v", tmp.path + "/absent:/x", "--", "/bin/true"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("bind mount source " + tmp.path + "/absent"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("create it first"), std::string::npos) << r.err;
  EXPECT_EQ(daemon.vessel_json({"ls", "-a", "--json"}), json::Json::array());
  auto bad = daemon.vessel({"run", "--rootfs", rootfs, "-v", "data:relative", "--", "/bin/true"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("spec.mounts[0].target"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace vessel::test
