// checkpoint/restore's pure half: what is external, CRIU's command lines, the metadata parser.
#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/checkpoint.h"

namespace vessel::runtime {
namespace {

bool has_pair(const std::vector<std::string>& argv, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag && argv[i + 1] == value) return true;
  return false;
}

Spec vesseld_like_spec() {
  Spec spec;
  spec.mounts = {{"/proc", "proc", "proc", {}},
                 {"/etc/hosts", "bind", "/var/lib/vessel/instances/c/hosts", {"rbind", "ro"}},
                 {"/data", "none", "vol", {"bind"}}};
  spec.linux = Linux{};
  spec.linux->masked_paths = {"/proc/kcore", "/sys/firmware"};
  spec.linux->namespaces = {{"pid", ""}, {"mount", ""}, {"network", "/run/netns/c"}};
  return spec;
}

TEST(CheckpointPlan, BindMountsMaskedFilesAndNetnsAreExternal) {
  Spec spec = vesseld_like_spec();
  auto meta = plan_checkpoint(spec, {"file[18:5]", "pipe:[77]", "pipe:[77]"},
                              [](const std::string& p) { return p == "/proc/kcore"; });
  std::vector<std::pair<std::string, std::string>> want = {{"/etc/hosts", "bind"}, {"/data", "bind"}, {"/proc/kcore", "null"}};
  EXPECT_EQ(meta.external_mounts, want);
  EXPECT_TRUE(meta.external_netns);
  spec.linux->namespaces = {{"network", ""}};
  EXPECT_FALSE(plan_checkpoint(spec, {}, [](const std::string&) { return false; }).external_netns);
}

TEST(CheckpointPlan, DumpCommandLine) {
  Spec spec = vesseld_like_spec();
  auto meta = plan_checkpoint(spec, {"file[18:5]", "pipe:[77]", "pipe:[77]"},
                              [](const std::string& p) { return p == "/proc/kcore"; });
  CheckpointOptions o;
  o.criu.image_path = "/img";
  o.criu.work_path = "/work";
  o.leave_running = true;
  o.criu.tcp_established = true;
  auto argv = criu_dump_argv("criu", 42, "/rootfs", o, meta, 4026532000);
  EXPECT_EQ(argv[0], "criu");
  EXPECT_EQ(argv[1], "dump");
  EXPECT_TRUE(has_pair(argv, "--tree", "42"));
  EXPECT_TRUE(has_pair(argv, "--root", "/rootfs"));
  EXPECT_TRUE(has_pair(argv, "--images-dir", "/img"));
  EXPECT_TRUE(has_pair(argv, "--work-dir", "/work"));
  EXPECT_TRUE(has_pair(argv, "--external", "mnt[/etc/hosts]:/etc/hosts"));
  EXPECT_TRUE(has_pair(argv, "--external", "mnt[/proc/kcore]:/proc/kcore"));
  EXPECT_TRUE(has_pair(argv, "--external", "net[4026532000]:extNetNs"));
  EXPECT_TRUE(has_pair(argv, "--external", "file[18:5]"));
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--leave-running"), 1);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--tcp-established"), 1);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--manage-cgroups=ignore"), 1);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--ext-unix-sk"), 0);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--freeze-cgroup"), 0) << "a running container is seized by ptrace";
}

TEST(CheckpointPlan, PausedContainerIsSeizedThroughItsFreezer) {
  CheckpointOptions o;
  o.criu.image_path = "/img";
  o.leave_running = true;
  o.freeze_cgroup = "/sys/fs/cgroup/freezer/k8s/c1";
  auto argv = criu_dump_argv("criu", 42, "/rootfs", o, CheckpointMeta{}, 0);
  EXPECT_TRUE(has_pair(argv, "--freeze-cgroup", "/sys/fs/cgroup/freezer/k8s/c1"));
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--leave-running"), 1);
}

TEST(CheckpointPlan, RestoreCommandLineMapsKeysToTheBundle) {
  Spec spec = vesseld_like_spec();
  CheckpointMeta meta;
  meta.descriptors = {"file[18:5]", "pipe:[77]", "pipe:[77]"};
  meta.external_mounts = {{"/etc/hosts", "bind"}, {"/data", "bind"}, {"/proc/kcore", "null"}};
  meta.external_netns = true;
  RestoreOptions o;
  o.bundle = "/bundle";
  o.criu.image_path = "/img";
  auto argv = criu_restore_argv("criu", "/rootfs", spec, o, meta, 9, "/img/restore.pid");
  EXPECT_EQ(argv[1], "restore");
  EXPECT_TRUE(has_pair(argv, "--work-dir", "/img"));  // default: the image path
  EXPECT_TRUE(has_pair(argv, "--pidfile", "/img/restore.pid"));
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--restore-detached"), 1);
  EXPECT_TRUE(has_pair(argv, "--external", "mnt[/etc/hosts]:/var/lib/vessel/instances/c/hosts"));
  EXPECT_TRUE(has_pair(argv, "--external", "mnt[/data]:/bundle/vol"));  // relative to the bundle
  EXPECT_TRUE(has_pair(argv, "--external", "mnt[/proc/kcore]:/dev/null"));
  EXPECT_TRUE(has_pair(argv, "--inherit-fd", "fd[0]:file[18:5]"));
  EXPECT_TRUE(has_pair(argv, "--inherit-fd", "fd[1]:pipe:[77]"));
  EXPECT_FALSE(has_pair(argv, "--inherit-fd", "fd[2]:pipe:[77]"));  // one fd per key
  EXPECT_TRUE(has_pair(argv, "--inherit-fd", "fd[9]:extNetNs"));
}

TEST(CheckpointMeta, RoundTrip) {
  CheckpointMeta meta;
  meta.descriptors = {"", "pipe:[1]", "file[a:ff]"};
  meta.external_mounts = {{"/etc/hosts", "bind"}, {"/proc/kcore", "null"}};
  meta.external_netns = true;
  auto back = CheckpointMeta::parse(meta.to_json().dump());
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->descriptors, meta.descriptors);
  EXPECT_EQ(back->external_mounts, meta.external_mounts);
  EXPECT_TRUE(back->external_netns);
}

TEST(CheckpointMeta, RefusesWhatCouldInjectIntoCriusArguments) {
  for (const char* bad : {
           "[]", "{}", R"({"version":2})", "not json",
           R"({"version":1,"descriptors":["/etc/passwd"]})",
           R"({"version":1,"descriptors":["pipe:[1]x"]})",
           R"({"version":1,"descriptors":["file[1:2]]"]})",
           R"({"version":1,"descriptors":["a","b","c","d"]})",
           R"({"version":1,"external_mounts":[{"key":"relative","restore":"bind"}]})",
           R"({"version":1,"external_mounts":[{"key":"/a]:/etc","restore":"bind"}]})",
           R"({"version":1,"external_mounts":[{"key":"/a","restore":"/etc/shadow"}]})",
           R"({"version":1,"external_netns":"yes"})"}) {
    EXPECT_FALSE(CheckpointMeta::parse(bad)) << bad;
  }
  EXPECT_TRUE(CheckpointMeta::parse(R"({"version":1})"));
}

}  // namespace
}  // namespace vessel::runtime
