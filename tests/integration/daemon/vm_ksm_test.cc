// vessel run --vm --ksm (docs/vmm/memory.md, docs/daemon/cli.md): two VMs whose RAM holds the same
// bytes (the counting guest's "fill" writes into every page a word that depends on its address
// only) are merged by KSM, which `vessel stats` shows per VM and `vessel host check` for the host;
// a VM without --ksm shows nothing of it, and a container cannot ask for it.
#include <unistd.h>

#include <thread>

#include "daemon_fixture.h"
#include "host_knob.h"
#include "vm_test_kit.h"

namespace vessel::test {
namespace {

uint64_t merged_pages(const Daemon& d, const std::string& name) {
  auto s = d.vessel_json({"stats", "--no-stream", "--json", name});
  if (!s.is_array() || s.empty()) return 0;
  return s[0].value("ksm_merged_pages", uint64_t{0});
}

TEST(VmKsm, StatsShowTheGuestPagesKsmMergedBetweenTwoVms) {
  const std::string k = "/sys/kernel/mm/ksm/";
  ASSERT_EQ(access((k + "run").c_str(), W_OK), 0) << "needs KSM (CONFIG_KSM) and root";
  TempDir tmp;
  Daemon d(tmp.path, {"--vmm", vmm()});
  ASSERT_TRUE(d.start()) << d.log();
  for (const char* name : {"ksm1", "ksm2"}) {
    auto r = d.vessel({"run", "--vm", "--ksm", "--name", name, "--kernel", guest("snapshot_counter"), "--cmdline",
                       "ticks=100000000 fill", "--memory", "64M", "--stop-timeout", "0"});
    ASSERT_EQ(r.status, 0) << r.err << d.log();
  }
  ASSERT_EQ(d.vessel({"run", "--vm", "--name", "plain", "--kernel", guest("counter"), "--cmdline", "count=100000000",
                      "--memory", "64M", "--stop-timeout", "0"})
                .status,
            0)
      << d.log();
  EXPECT_EQ(d.vessel_json({"inspect", "ksm1"}).value("ksm", false), true);
  ASSERT_TRUE(eventually([&] { return d.vessel({"logs", "ksm1"}).out.find("tick 1") != std::string::npos &&
                                      d.vessel({"logs", "ksm2"}).out.find("tick 1") != std::string::npos; },
                         600))
      << d.vessel({"logs", "ksm1"}).out;
  // Paused, the guests leave the CPU to ksmd (a one-CPU nested host would starve it otherwise).
  ASSERT_EQ(d.vessel({"pause", "ksm1"}).status, 0);
  ASSERT_EQ(d.vessel({"pause", "ksm2"}).status, 0);
  KnobLock lock;
  Knob scan(k + "pages_to_scan", "5000"), sleep(k + "sleep_millisecs", "10"), run(k + "run", "1");
  ASSERT_TRUE(scan.ok() && sleep.ok() && run.ok());
  // "fill" wrote 32 MiB (8192 pages) in each VM.
  // Each `vessel stats` samples for half a second: about 90 s in all.
  EXPECT_TRUE(eventually([&] { return merged_pages(d, "ksm1") >= 6000 && merged_pages(d, "ksm2") >= 6000; }, 80))
      << d.vessel({"stats", "--no-stream", "--json", "ksm1", "ksm2"}).out;
  auto table = d.vessel({"stats", "--no-stream", "ksm1", "plain"}).out;
  EXPECT_NE(table.find("KSM SHARED"), std::string::npos) << table;
  EXPECT_NE(table.find("MiB"), std::string::npos) << table;
  EXPECT_FALSE(d.vessel_json({"stats", "--no-stream", "--json", "plain"})[0].contains("ksm_merged_pages"));
  auto host = d.vessel({"host", "check"}).out;
  EXPECT_NE(host.find("pages merged"), std::string::npos) << host;
  auto refused = d.vessel({"run", "--ksm", "--name", "c1", "--rootfs", "/", "--", "true"});
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.err.find("KSM sharing is for VMs"), std::string::npos) << refused.err;
  for (const char* name : {"ksm1", "ksm2", "plain"}) EXPECT_EQ(d.vessel({"rm", "-f", name}).status, 0);
}

}  // namespace
}  // namespace vessel::test
