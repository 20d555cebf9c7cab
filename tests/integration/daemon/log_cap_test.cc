// Instance logs are capped and rotated (gap 8 of docs/threat-model.md): a container or a VM
// guest that writes more than max-size x max-file leaves at most that on disk, `vessel logs`
// shows the newest output across the rotated files, and `vessel logs -f` follows across rotations.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "base/log_stamp.h"
#include "daemon_fixture.h"
#include "vm_test_kit.h"

namespace vessel::test {
namespace {

// Bytes of console.log and its rotated files, and how many files there are.
std::pair<uint64_t, int> on_disk(const Daemon& d, const std::string& name) {
  std::string base = d.state_dir() + "/instances/" + name + "/console.log";
  uint64_t bytes = 0;
  int files = 0;
  for (int n = 0; n < 100; ++n) {
    struct stat st;
    if (::stat((n == 0 ? base : base + "." + std::to_string(n)).c_str(), &st) == 0) bytes += st.st_size, ++files;
  }
  return {bytes, files};
}

bool wait_stopped(const Daemon& d, const std::string& name) {
  for (int i = 0; i < 1200; ++i) {
    if (d.vessel_json({"inspect", name}).value("state", "") == "stopped") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class LogCap : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs = tmp.path + "/rootfs";
    make_busybox_rootfs(rootfs);
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  TempDir tmp;
  std::string rootfs;
  Daemon daemon{tmp.path, {"--log-opt", "max-size=64k", "--log-opt", "max-file=2"}};
};

// 12000 lines of 29 bytes: 348 KB, more than twice the daemon's cap of 2 x 64 KiB.
std::string lines(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += fmt::format("line {:06} ................\n", i);
  return out;
}
const char* kFlood = "/bin/busybox awk 'BEGIN { for (i = 0; i < 12000; i++) printf \"line %06d ................\\n\", i }'";

TEST_F(LogCap, AContainerWritingMoreThanTheCapLeavesAtMostTheCapAndLogsShowTheNewest) {
  auto r = daemon.vessel({"run", "--wait", "--name", "flood", "--rootfs", rootfs, "--", "/bin/sh", "-c", kFlood});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  auto [bytes, files] = on_disk(daemon, "flood");
  EXPECT_LE(bytes, 2u * 64 * 1024);
  EXPECT_GT(bytes, 64u * 1024);  // the older file is kept too
  EXPECT_EQ(files, 2);
  auto logs = daemon.vessel({"logs", "flood"});
  ASSERT_EQ(logs.status, 0) << logs.err;
  // Both files, as one stream: each line is stored behind its stamp (base/log_stamp.h), which
  // `vessel logs` cuts off.
  auto shown_lines = static_cast<uint64_t>(std::count(logs.out.begin(), logs.out.end(), '\n'));
  EXPECT_EQ(logs.out.size() + shown_lines * kLogStampSize, bytes);
  EXPECT_NE(logs.out.find("line 011999 ................\n"), std::string::npos) << logs.out.substr(logs.out.size() - 200);
  EXPECT_EQ(logs.out.find("line 000000 "), std::string::npos);
  // The newest bytes, in order, with nothing lost between the two files.
  std::string expect = lines(12000);
  ASSERT_LE(logs.out.size(), expect.size());
  EXPECT_TRUE(logs.out == expect.substr(expect.size() - logs.out.size())) << logs.out.substr(0, 100);
}

TEST_F(LogCap, AnInstancesOwnLogOptWinsOverTheDaemons) {
  auto r = daemon.vessel({"run", "--wait", "--name", "small", "--log-opt", "max-size=16k", "--log-opt", "max-file=1",
                          "--rootfs", rootfs, "--", "/bin/sh", "-c", kFlood});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  auto [bytes, files] = on_disk(daemon, "small");
  EXPECT_LE(bytes, 16u * 1024);
  EXPECT_EQ(files, 1);
  EXPECT_EQ(daemon.vessel_json({"inspect", "small"})["log"].value("max_size", 0), 16 * 1024);
  EXPECT_NE(daemon.vessel({"logs", "small"}).out.find("line 011999"), std::string::npos);
  r = daemon.vessel({"run", "--name", "bad", "--log-opt", "max-size=1", "--rootfs", rootfs, "--", "/bin/true"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("max-size"), std::string::npos) << r.err;
}

TEST_F(LogCap, FollowCarriesOnAcrossRotations) {
  // Bursts of 1000 lines (29 KB) every 0.2 s: several rotations while `logs -f` follows.
  auto r = daemon.vessel({"run", "--name", "slow", "--rootfs", rootfs, "--", "/bin/sh", "-c",
                          "sleep 1; for b in 0 1 2 3 4 5 6 7 8 9; do /bin/busybox awk -v b=$b 'BEGIN { for (i = b * 1000; "
                          "i < b * 1000 + 1000; i++) printf \"line %06d ................\\n\", i }'; sleep 0.2; done"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  auto followed = daemon.vessel({"logs", "-f", "slow"});
  ASSERT_EQ(followed.status, 0) << followed.err;
  // Every line once, in order, although the disk holds only the last 128 KiB.
  std::string expect = lines(10000);
  EXPECT_EQ(followed.out.size(), expect.size());
  EXPECT_TRUE(followed.out == expect) << "first difference at byte "
                                      << std::mismatch(expect.begin(), expect.end(), followed.out.begin(), followed.out.end()).first - expect.begin();
  EXPECT_LE(on_disk(daemon, "slow").first, 2u * 64 * 1024);
}

TEST(LogCapVm, AGuestFloodingItsConsoleLeavesAtMostTheCap) {
  TempDir tmp;
  Daemon daemon{tmp.path, {"--vmm", vmm(), "--log-opt", "max-size=16k", "--log-opt", "max-file=2"}};
  ASSERT_TRUE(daemon.start()) << daemon.log();
  // 3000 lines of ~66 bytes: ~200 KB through the 8250.
  auto r = daemon.vessel({"run", "--vm", "--name", "chatty", "--kernel", guest("console_flood"), "--cmdline", "lines=3000", "--memory", "64M"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  ASSERT_TRUE(wait_stopped(daemon, "chatty")) << daemon.vessel({"logs", "chatty"}).out;
  auto [bytes, files] = on_disk(daemon, "chatty");
  EXPECT_LE(bytes, 2u * 16 * 1024);
  EXPECT_EQ(files, 2);
  auto logs = daemon.vessel({"logs", "chatty"}).out;
  EXPECT_NE(logs.find("flood 2999 ..."), std::string::npos) << logs.substr(logs.size() > 300 ? logs.size() - 300 : 0);
  EXPECT_NE(logs.find("flood done"), std::string::npos);
  EXPECT_EQ(logs.find("flood 0 ..."), std::string::npos);
  // A VM's console is stamped by its relay as a container's output is: --tail and -t work alike.
  auto tail = daemon.vessel({"logs", "--tail", "2", "chatty"}).out;
  EXPECT_EQ(std::count(tail.begin(), tail.end(), '\n'), 2) << tail;
  EXPECT_NE(tail.find("flood done"), std::string::npos) << tail;
  EXPECT_EQ(logs.substr(logs.size() - tail.size()), tail);
  auto stamped = daemon.vessel({"logs", "-t", "--tail", "1", "chatty"}).out;
  EXPECT_TRUE(parse_log_stamp(stamped).has_value()) << stamped;
}

}  // namespace
}  // namespace vessel::test
