// config.json parsing and validation: types, names, ranges and cross-field rules.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "runtime/cgroups/cgroup.h"
#include "runtime/linux/mounts.h"
#include "runtime/linux/seccomp.h"
#include "runtime/spec/spec.h"
#include "runtime/state.h"

namespace vessel::runtime {
namespace {

using json::Json;

Json minimal() {
  return Json::parse(R"({
    "ociVersion": "1.0.2",
    "process": {"args": ["/bin/sh"], "cwd": "/", "env": ["PATH=/bin"]},
    "root": {"path": "rootfs"},
    "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}, {"type": "uts"}]}
  })");
}

std::string error_of(const Json& j) {
  auto r = parse_spec(j.dump());
  return r ? std::string("OK") : r.error().to_string();
}

TEST(SpecParse, MinimalConfig) {
  auto s = parse_spec(minimal().dump());
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->process->args, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(s->root_path, "rootfs");
  EXPECT_TRUE(s->creates_namespace("pid"));
  EXPECT_FALSE(s->creates_namespace("network"));
}

TEST(SpecParse, FullProcess) {
  Json j = minimal();
  j["process"]["user"] = {{"uid", 5}, {"gid", 6}, {"umask", 18}, {"additionalGids", {7, 8}}};
  j["process"]["capabilities"] = {{"bounding", {"CAP_KILL", "CAP_SYS_ADMIN"}}, {"ambient", {"NET_RAW"}}};
  j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 10}, {"hard", 20}}};
  j["process"]["oomScoreAdj"] = -500;
  j["process"]["noNewPrivileges"] = true;
  j["process"]["consoleSize"] = {{"height", 24}, {"width", 80}};
  auto s = parse_spec(j.dump());
  ASSERT_TRUE(s) << s.error().to_string();
  const Process& p = *s->process;
  EXPECT_EQ(p.user.uid, 5u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{7, 8}));
  EXPECT_EQ(*p.user.umask, 18u);
  EXPECT_EQ(p.capabilities->bounding, (uint64_t{1} << 5) | (uint64_t{1} << 21));
  EXPECT_EQ(p.capabilities->ambient, uint64_t{1} << 13);
  ASSERT_EQ(p.rlimits.size(), 1u);
  EXPECT_EQ(p.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(*p.oom_score_adj, -500);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.console_size->width, 80u);
}

TEST(SpecParse, UnknownFieldsAreIgnoredAsTheSpecRequires) {
  Json j = minimal();
  j["vendorExtension"] = {{"x", 1}};
  j["process"]["somethingNew"] = true;
  EXPECT_EQ(error_of(j), "OK");
}

TEST(SpecParse, ErrorsNameTheField) {
  struct Case {
    std::function<void(Json&)> edit;
    const char* want;
  };
  std::vector<Case> cases = {
      {[](Json& j) { j.erase("ociVersion"); }, "ociVersion"},
      {[](Json& j) { j["ociVersion"] = "0.9"; }, "not supported"},
      {[](Json& j) { j.erase("root"); }, "root"},
      {[](Json& j) { j["process"]["args"] = Json::array(); }, "process.args"},
      {[](Json& j) { j["process"]["args"] = {1}; }, "process.args[0]"},
      {[](Json& j) { j["process"]["env"] = {"NOEQUALS"}; }, "process.env[0]"},
      {[](Json& j) { j["process"]["cwd"] = "relative"; }, "process.cwd"},
      {[](Json& j) { j["process"]["user"]["uid"] = -1; }, "process.user.uid"},
      {[](Json& j) { j["process"]["user"]["uid"] = 1ull << 33; }, "process.user.uid"},
      {[](Json& j) { j["process"]["capabilities"] = {{"effective", {"CAP_BOGUS"}}}; }, "CAP_BOGUS"},
      {[](Json& j) { j["process"]["rlimits"] = {{{"type", "RLIMIT_BOGUS"}}}; }, "RLIMIT_BOGUS"},
      {[](Json& j) { j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 5}, {"hard", 1}}}; }, "soft limit"},
      {[](Json& j) { j["process"]["oomScoreAdj"] = 5000; }, "oomScoreAdj"},
      {[](Json& j) { j["linux"]["namespaces"].push_back({{"type", "pid"}}); }, "listed twice"},
      {[](Json& j) { j["linux"]["namespaces"].push_back({{"type", "bogus"}}); }, "unknown namespace"},
      {[](Json& j) { j["linux"]["namespaces"][0]["path"] = "relative/ns"; }, "must be absolute"},
      {[](Json& j) { j["linux"]["cgroupsPath"] = "/a/../b"; }, "cgroupsPath"},
      {[](Json& j) { j["linux"]["cgroupsPath"] = "system.slice:vessel"; }, "slice:prefix:name"},
      {[](Json& j) { j["linux"]["sysctl"] = {{"vm.overcommit_memory", "1"}}; }, "not namespaced"},
      {[](Json& j) { j["linux"]["sysctl"] = {{"kernel.shmmax", "1"}}; }, "ipc namespace"},
      {[](Json& j) { j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}}; }, "network namespace"},
      {[](Json& j) { j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 0}, {"size", 1}}}; }, "user namespace"},
      {[](Json& j) { j["linux"]["maskedPaths"] = {"proc/kcore"}; }, "maskedPaths"},
      {[](Json& j) { j["linux"]["rootfsPropagation"] = "sideways"; }, "rootfsPropagation"},
      {[](Json& j) { j["linux"]["timeOffsets"] = {{"monotonic", {{"secs", 1}}}}; }, "time namespace"},
      {[](Json& j) { j["linux"]["devices"] = {{{"path", "/etc/x"}, {"type", "c"}, {"major", 1}, {"minor", 1}}}; }, "under /dev"},
      {[](Json& j) { j["linux"]["devices"] = {{{"path", "/dev/x"}, {"type", "q"}}}; }, "linux.devices[0].type"},
      {[](Json& j) { j["linux"]["resources"] = {{"cpu", {{"quota", 10}}}}; }, "quota"},
      {[](Json& j) { j["linux"]["resources"] = {{"memory", {{"swappiness", 200}}}}; }, "swappiness"},
      {[](Json& j) { j["linux"]["resources"] = {{"devices", {{{"allow", true}, {"access", "rwx"}}}}}; }, "access"},
      {[](Json& j) { j["linux"]["resources"] = {{"hugepageLimits", {{{"pageSize", "../x"}}}}}; }, "pageSize"},
      {[](Json& j) { j["hooks"] = {{"prestart", {{{"path", "relative"}}}}}; }, "hooks.prestart[0].path"},
      {[](Json& j) { j["hooks"] = {{"poststop", {{{"path", "/bin/x"}, {"timeout", 0}}}}}; }, "timeout"},
      {[](Json& j) { j["mounts"] = {{{"destination", "/a/../../etc"}, {"type", "tmpfs"}}}; }, "mounts[0].destination"},
      {[](Json& j) { j["hostname"] = "h"; j["linux"]["namespaces"] = {{{"type", "mount"}}}; }, "uts namespace"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    Json j = minimal();
    cases[i].edit(j);
    std::string err = error_of(j);
    EXPECT_NE(err, "OK") << "case " << i;
    EXPECT_NE(err.find(cases[i].want), std::string::npos) << "case " << i << ": " << err;
  }
}

// podman hands the whole st_mode (S_IFCHR | 0600 = 8576); only the permission bits are kept.
TEST(SpecParse, ADevicesFileModeMayCarryItsTypeBits) {
  Json j = minimal();
  j["linux"]["devices"] = {{{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"fileMode", 8576}}};
  auto spec = parse_spec(j.dump());
  ASSERT_TRUE(spec) << spec.error().to_string();
  EXPECT_EQ(spec->linux->devices.at(0).file_mode, 0600u);
  j["linux"]["devices"][0]["fileMode"] = 0200000;
  EXPECT_NE(error_of(j).find("fileMode"), std::string::npos) << error_of(j);
}

TEST(SpecValidate, IdMappingsMustNotOverlap) {
  Json j = minimal();
  j["linux"]["namespaces"].push_back({{"type", "user"}});
  j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 100}},
                               {{"containerID", 100}, {"hostID", 1050}, {"size", 10}}};
  j["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 100}}};
  EXPECT_NE(error_of(j).find("overlaps"), std::string::npos);
  j["linux"]["uidMappings"][1]["hostID"] = 2000;
  EXPECT_EQ(error_of(j), "OK");
  j["linux"]["uidMappings"][1]["size"] = 0;
  EXPECT_NE(error_of(j).find("size must not be 0"), std::string::npos);
  j["linux"]["uidMappings"][1] = {{"containerID", 4294967290u}, {"hostID", 2000}, {"size", 100}};
  EXPECT_NE(error_of(j).find("wraps"), std::string::npos);
}

TEST(SpecParse, HostileDocuments) {
  EXPECT_FALSE(parse_spec(std::string(64, '[') + std::string(64, ']')));
  std::string huge = R"({"ociVersion":"1.0.0","x":")" + std::string(kMaxConfigBytes, 'a') + "\"}";
  auto r = parse_spec(huge);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("larger than"), std::string::npos);
  EXPECT_FALSE(parse_spec("not json"));
  EXPECT_FALSE(parse_spec("[]"));
  EXPECT_FALSE(parse_spec("{\"ociVersion\": 3}"));
}

TEST(Names, CapabilitiesRlimitsNamespaces) {
  EXPECT_EQ(*capability_from_name("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(*capability_from_name("sys_admin"), 21);
  EXPECT_FALSE(capability_from_name("CAP_NOPE"));
  EXPECT_EQ(capability_name(0), "CAP_CHOWN");
  EXPECT_EQ(*rlimit_from_name("RLIMIT_NPROC"), RLIMIT_NPROC);
  EXPECT_EQ(namespace_flag("network"), CLONE_NEWNET);
  EXPECT_STREQ(namespace_proc_name("mount"), "mnt");
}

TEST(MountOptions, FlagsPropagationAndData) {
  MountFlags f = parse_mount_options({"ro", "nosuid", "rbind", "rslave", "size=64k", "mode=755", "rw"});
  EXPECT_TRUE(f.bind);
  EXPECT_TRUE(f.recursive);
  EXPECT_EQ(f.flags & MS_RDONLY, 0u) << "a later rw clears ro";
  EXPECT_NE(f.flags & MS_NOSUID, 0u);
  EXPECT_EQ(f.propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(f.data, "size=64k,mode=755");
}

TEST(Seccomp, NamesAreChecked) {
  Seccomp s;
  s.default_action = "SCMP_ACT_ERRNO";
  s.architectures = {"SCMP_ARCH_X86_64"};
  s.syscalls.push_back({{"mkdir"}, "SCMP_ACT_ALLOW", std::nullopt, {{0, 1, 0, "SCMP_CMP_EQ"}}});
  EXPECT_TRUE(check_seccomp(s));
  auto f = SeccompFilter::compile(s);
  EXPECT_TRUE(f) << f.error().to_string();
  s.syscalls[0].args[0].op = "SCMP_CMP_SOMETIMES";
  EXPECT_FALSE(check_seccomp(s));
  s.syscalls[0].args[0].op = "SCMP_CMP_EQ";
  s.architectures = {"SCMP_ARCH_Z80"};
  EXPECT_FALSE(SeccompFilter::compile(s));
  s.architectures = {};
  s.flags = {"SECCOMP_FILTER_FLAG_NONSENSE"};
  EXPECT_FALSE(check_seccomp(s));
}

TEST(State, IdsAndOciState) {
  EXPECT_TRUE(check_id("abc-1_2.3+x"));
  EXPECT_FALSE(check_id(""));
  EXPECT_FALSE(check_id(".."));
  EXPECT_FALSE(check_id("a/b"));
  EXPECT_FALSE(check_id(std::string(2000, 'a')));
  ContainerState s;
  s.id = "c1";
  s.pid = 42;
  s.bundle = "/b";
  auto round = ContainerState::from_json(s.to_json());
  ASSERT_TRUE(round);
  EXPECT_EQ(round->pid, 42);
  Json st = oci_state(s, Status::Stopped);
  EXPECT_EQ(st["status"], "stopped");
  EXPECT_EQ(st["pid"], 0) << "a stopped container reports pid 0";
  EXPECT_FALSE(ContainerState::from_json(Json::array()));
}

TEST(Cgroups, PlanPutsAbsolutePathsUnderEveryHierarchy) {
  CgroupHost host;
  host.layout = CgroupLayout::Hybrid;
  host.hierarchies = {{"/sys/fs/cgroup/memory", {"memory"}, false, "memory"},
                      {"/sys/fs/cgroup/unified", {"hugetlb"}, true, "unified"}};
  auto cg = Cgroup::plan(host, "/a/b");
  ASSERT_TRUE(cg);
  EXPECT_EQ(cg->dirs().at("memory"), "/sys/fs/cgroup/memory/a/b");
  EXPECT_EQ(cg->dirs().at("unified"), "/sys/fs/cgroup/unified/a/b");
  Cgroup back = Cgroup::from_json(cg->to_json());
  EXPECT_EQ(back.dirs(), cg->dirs());
}

// vesseld's groups (daemon/policy/cgroups.cc): only the hierarchies of the controllers it sets;
// on a pure v2 host, the unified one.
TEST(Cgroups, PlanCanKeepToTheHierarchiesOfSomeControllers) {
  CgroupHost hybrid;
  hybrid.layout = CgroupLayout::Hybrid;
  hybrid.hierarchies = {{"/sys/fs/cgroup/memory", {"memory"}, false, "memory"},
                        {"/sys/fs/cgroup/cpu,cpuacct", {"cpu", "cpuacct"}, false, "cpu,cpuacct"},
                        {"/sys/fs/cgroup/pids", {"pids"}, false, "pids"},
                        {"/sys/fs/cgroup/systemd", {"name=systemd"}, false, "name=systemd"},
                        {"/sys/fs/cgroup/unified", {}, true, "unified"}};
  auto cg = Cgroup::plan(hybrid, "/vessel/web", {"memory", "cpu", "cpuacct"});
  ASSERT_TRUE(cg);
  EXPECT_EQ(cg->dirs().size(), 2u);
  EXPECT_EQ(cg->dir_for("memory"), "/sys/fs/cgroup/memory/vessel/web");
  EXPECT_EQ(cg->dir_for("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct/vessel/web");
  EXPECT_FALSE(cg->is_v2("memory"));

  CgroupHost v2;
  v2.layout = CgroupLayout::V2;
  v2.hierarchies = {{"/sys/fs/cgroup", {"cpu", "io", "memory", "pids"}, true, "unified"}};
  cg = Cgroup::plan(v2, "/vessel/web", {"memory", "cpu", "cpuacct"});
  ASSERT_TRUE(cg);
  EXPECT_EQ(cg->dirs().at("unified"), "/sys/fs/cgroup/vessel/web");
  EXPECT_TRUE(cg->is_v2("memory"));
}

TEST(Cgroups, DetectSeesThisHostsHierarchies) {
  auto host = CgroupHost::detect();
  ASSERT_TRUE(host) << host.error().to_string();
  EXPECT_FALSE(host->hierarchies.empty());
}

}  // namespace
}  // namespace vessel::runtime
