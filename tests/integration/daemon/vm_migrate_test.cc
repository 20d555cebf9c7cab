// vessel migrate (docs/daemon/migrate.md) between two vesselds on this machine (their own state
// directories, sockets, cgroup parents and jail uids), with the test-kit counter guest: a
// migration the destination refuses (the name is taken there) leaves the VM counting on the
// source; after the name is freed, the VM moves: the destination's console goes on from where
// the source's was, not from zero, the source no longer lists it, the destination does; then
// bad input (unknown instance, stopped VM, unreachable destination) and the VM stops and goes on
// the destination.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <regex>

#include "base/fd.h"
#include "daemon_fixture.h"
#include "vm_test_kit.h"

namespace vessel::test {
namespace {

bool listed(const Daemon& d, const std::string& name) {
  auto list = d.vessel_json({"ls", "-a", "--json"});
  if (!list.is_array()) return false;
  for (const auto& i : list)
    if (i.value("name", "") == name) return true;
  return false;
}

TEST(VmMigrate, CounterGoesOnInTheOtherVesseldAndARefusedMigrationLeavesItRunning) {
  ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
  TempDir tmp_a, tmp_b;
  SecondCgroupParent parent_b;
  Daemon a(tmp_a.path, {"--vmm", vmm()});
  Daemon b(tmp_b.path, second_vm_daemon_flags(parent_b.name));
  ASSERT_TRUE(a.start()) << a.log();
  ASSERT_TRUE(b.start()) << b.log();
  std::vector<std::string> run{"run", "--vm", "--name", "vm1", "--kernel", guest("counter"), "--cmdline", "count=1000000",
                               "--memory", "64M", "--stop-timeout", "0"};
  auto r = a.vessel(run);
  ASSERT_EQ(r.status, 0) << r.err << a.log();
  pid_t pid_a = a.vessel_json({"inspect", "vm1"}).value("pid", 0);
  ASSERT_TRUE(eventually([&] { return logged_counts(a, "vm1").size() >= 3; })) << a.vessel({"logs", "vm1"}).out;

  // Refused: B has an instance of that name. The VM goes on on A, untouched.
  std::vector<std::string> created = run;
  created[0] = "create";
  ASSERT_EQ(b.vessel(created).status, 0) << b.log();
  auto refused = a.vessel({"migrate", "vm1", "--to", b.socket()});
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.err.find("already exists"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("vm1 goes on here"), std::string::npos) << refused.err;
  EXPECT_EQ(state_of(a, "vm1"), "running");
  EXPECT_EQ(a.vessel_json({"inspect", "vm1"}).value("pid", 0), pid_a);
  EXPECT_TRUE(alive(pid_a));
  size_t seen = logged_counts(a, "vm1").size();
  EXPECT_TRUE(eventually([&] { return logged_counts(a, "vm1").size() > seen; })) << "it goes on counting on A";
  EXPECT_EQ(state_of(b, "vm1"), "created") << "B's own instance is untouched";
  ASSERT_EQ(b.vessel({"rm", "vm1"}).status, 0);

  // Moved: B runs it, from where it was; A forgets it.
  auto before = logged_counts(a, "vm1");
  ASSERT_FALSE(before.empty());
  auto moved = a.vessel({"migrate", "vm1", "--to", "unix:" + b.socket(), "--json"});
  ASSERT_EQ(moved.status, 0) << moved.err << a.log() << b.log();
  auto report = json::parse(moved.out);
  ASSERT_TRUE(report && report->is_object()) << moved.out;
  EXPECT_GT(report->value("bytes", uint64_t{0}), 0u);
  EXPECT_GT(report->value("total_ms", 0.0), 0.0);
  EXPECT_GT(report->value("downtime_ms", 0.0), 0.0);
  std::cout << "migration through vesseld: downtime " << report->value("downtime_ms", 0.0) << " ms, vessel-vmm total "
            << report->value("total_ms", 0.0) << " ms, through vesseld " << report->value("daemon_total_ms", 0.0)
            << " ms, " << report->value("bytes", uint64_t{0}) << " bytes, " << report->value("rounds", 0) << " rounds\n";
  EXPECT_TRUE(eventually([&] { return !alive(pid_a); })) << "A's vessel-vmm ended";
  EXPECT_FALSE(listed(a, "vm1")) << a.vessel({"ls"}).out;
  EXPECT_NE(a.vessel({"inspect", "vm1"}).status, 0);
  EXPECT_FALSE(std::filesystem::exists(a.state_dir() + "/instances/vm1"));
  ASSERT_TRUE(listed(b, "vm1")) << b.vessel({"ls"}).out;
  auto info = b.vessel_json({"inspect", "vm1"});
  EXPECT_EQ(info.value("state", ""), "running");
  pid_t pid_b = info.value("pid", 0);
  EXPECT_TRUE(alive(pid_b));
  EXPECT_NE(pid_b, pid_a);
  ASSERT_TRUE(eventually([&] { return logged_counts(b, "vm1").size() >= 3; }, 600)) << b.vessel({"logs", "vm1"}).out << b.log();
  auto after = logged_counts(b, "vm1");
  // B's console has only what the VM printed there: it goes on from A's count, not from 1.
  EXPECT_GE(after.front(), before.back()) << b.vessel({"logs", "vm1"}).out;
  EXPECT_LE(after.front(), before.back() + 200) << "A counted far beyond what it printed before the migration?";
  for (size_t i = 1; i < after.size(); ++i) ASSERT_EQ(after[i], after[i - 1] + 1) << b.vessel({"logs", "vm1"}).out;

  // Bad input, each a clear error, nothing changed.
  auto unknown = a.vessel({"migrate", "nosuch", "--to", b.socket()});
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.err.find("no instance named nosuch"), std::string::npos) << unknown.err;
  auto nowhere = b.vessel({"migrate", "vm1", "--to", tmp_a.path + "/no-vesseld.sock"});
  EXPECT_NE(nowhere.status, 0);
  EXPECT_NE(nowhere.err.find("cannot reach the destination vesseld"), std::string::npos) << nowhere.err;
  EXPECT_EQ(state_of(b, "vm1"), "running");
  EXPECT_EQ(b.vessel_json({"inspect", "vm1"}).value("pid", 0), pid_b);
  ASSERT_EQ(b.vessel({"stop", "vm1"}).status, 0) << b.log();
  auto stopped = b.vessel({"migrate", "vm1", "--to", a.socket()});
  EXPECT_NE(stopped.status, 0);
  EXPECT_NE(stopped.err.find("instance is stopped"), std::string::npos) << stopped.err;
  EXPECT_FALSE(listed(a, "vm1"));
  EXPECT_EQ(b.vessel({"rm", "vm1"}).status, 0);
}

// Disks on shared storage (the same paths on both sides): a VM with a read-only and a writable
// raw file moves; the writable image's lock goes with it (qemu-img cannot open it while the VM
// runs there, and can once it stopped). A disk vesseld made in the instance's directory is
// refused by name before anything is asked of the destination, and that VM counts on.
TEST(VmMigrate, DisksOnSharedStorageMoveWithTheirLocksAndPrivateOnesAreRefused) {
  ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
  TempDir tmp_a, tmp_b, shared;
  SecondCgroupParent parent_b;
  ::chmod(shared.path.c_str(), 0755);  // the jailed VMMs' uids reach the disks
  std::string ro = shared.path + "/ro.raw", rw = shared.path + "/rw.raw";
  for (const auto& f : {ro, rw}) {
    ASSERT_TRUE(write_file(f, std::string(1 << 20, 'x')));
    ::chmod(f.c_str(), 0644);
  }
  Daemon a(tmp_a.path, {"--vmm", vmm()});
  Daemon b(tmp_b.path, second_vm_daemon_flags(parent_b.name));
  ASSERT_TRUE(a.start()) << a.log();
  ASSERT_TRUE(b.start()) << b.log();
  auto run = [&](const std::string& name, const std::vector<std::string>& disks) {
    std::vector<std::string> argv{"run", "--vm", "--name", name, "--kernel", guest("counter"), "--cmdline", "count=1000000",
                                  "--memory", "64M", "--stop-timeout", "0"};
    for (const auto& d : disks) argv.insert(argv.end(), {"--disk", d});
    return a.vessel(argv);
  };
  // Someone holds the write permission's lock byte (image_lock.h: 100 + 1) of the image.
  auto locked = [&] {
    Fd fd(::open(rw.c_str(), O_RDONLY | O_CLOEXEC));
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 101;
    fl.l_len = 1;
    return fd && ::fcntl(fd.get(), F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  };
  auto r = run("disks", {"path=" + ro + ",ro", "path=" + rw});
  ASSERT_EQ(r.status, 0) << r.err << a.log();
  ASSERT_TRUE(eventually([&] { return logged_counts(a, "disks").size() >= 2; })) << a.vessel({"logs", "disks"}).out;
  EXPECT_TRUE(locked()) << "A's vessel-vmm holds the write lock";
  auto moved = a.vessel({"migrate", "disks", "--to", b.socket(), "-q"});
  ASSERT_EQ(moved.status, 0) << moved.err << a.log() << b.log();
  EXPECT_NE(moved.out.find("disks migrated to unix:" + b.socket() + ": downtime "), std::string::npos) << moved.out;
  EXPECT_FALSE(listed(a, "disks"));
  EXPECT_EQ(state_of(b, "disks"), "running");
  auto spec = b.vessel_json({"inspect", "disks"});
  EXPECT_EQ(spec["disks"][1].value("path", ""), rw);
  ASSERT_TRUE(eventually([&] { return logged_counts(b, "disks").size() >= 2; }, 600)) << b.vessel({"logs", "disks"}).out;
  EXPECT_GT(logged_counts(b, "disks").front(), 1) << "it went on, it did not boot again";
  EXPECT_TRUE(locked()) << "B's vessel-vmm holds the write lock now";
  ASSERT_EQ(b.vessel({"stop", "disks"}).status, 0);
  EXPECT_FALSE(locked()) << "nobody holds it once the VM stopped";

  r = run("private", {"size=1M"});
  ASSERT_EQ(r.status, 0) << r.err << a.log();
  pid_t pid = a.vessel_json({"inspect", "private"}).value("pid", 0);
  auto refused = a.vessel({"migrate", "private", "--to", b.socket()});
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.err.find("lives in the instance's directory on this vesseld; block migration is not built"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(state_of(a, "private"), "running");
  EXPECT_EQ(a.vessel_json({"inspect", "private"}).value("pid", 0), pid);
  EXPECT_FALSE(listed(b, "private")) << "nothing was asked of the destination";
  EXPECT_EQ(b.vessel({"rm", "-f", "disks"}).status, 0);
  EXPECT_EQ(a.vessel({"rm", "-f", "private"}).status, 0);
}

}  // namespace
}  // namespace vessel::test
