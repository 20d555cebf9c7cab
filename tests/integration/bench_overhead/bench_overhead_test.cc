// `vessel bench overhead` with the real CLI, vesseld, vessel-runtime (and vessel-vmm with the
// default Linux guest): a well-formed report in which every place ran every workload, every time
// is positive and every exit status was checked; a place whose run fails stops the benchmark with
// that run's status, and no instance is left behind either way. Timings are never asserted.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "daemon_fixture.h"

namespace vessel::test {
namespace {

// Every workload in every place: n runs, each with a positive time, exit status 0; P > 0.
void expect_complete(const json::Json& report, const std::vector<std::string>& workloads,
                     const std::vector<std::string>& places, size_t runs) {
  ASSERT_EQ(report["runs"], runs);
  EXPECT_EQ(report["places"], json::Json(places));
  ASSERT_EQ(report["workloads"].size(), workloads.size()) << report.dump(2);
  for (size_t i = 0; i < workloads.size(); ++i) {
    const auto& w = report["workloads"][i];
    EXPECT_EQ(w["name"], workloads[i]);
    EXPECT_GT(w["work"].get<double>(), 0);
    EXPECT_EQ(w["checksum"].get<std::string>().size(), 16u);
    for (const auto& place : places) {
      SCOPED_TRACE(workloads[i] + " in " + place);
      const auto& p = w["places"][place];
      ASSERT_EQ(p["seconds"].size(), runs) << w.dump(2);
      ASSERT_EQ(p["exit_status"].size(), runs);
      for (size_t r = 0; r < runs; ++r) {
        EXPECT_GT(p["seconds"][r].get<double>(), 0);
        EXPECT_GE(p["wall_seconds"][r].get<double>(), p["seconds"][r].get<double>());
        EXPECT_EQ(p["exit_status"][r], 0);
      }
      EXPECT_GT(p["median_seconds"].get<double>(), 0);
      if (place != "native") {
        EXPECT_GT(w["p"][place].get<double>(), 0);
      }
    }
  }
}

void expect_no_instances(const Daemon& daemon) {
  auto ls = daemon.vessel_json({"ls", "-a", "--json"});
  EXPECT_TRUE(ls.is_array() && ls.empty()) << ls.dump(2);
}

class BenchOverhead : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs = tmp.path + "/rootfs";
    make_busybox_rootfs(rootfs);
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  TempDir tmp;
  std::string rootfs;
  Daemon daemon{tmp.path};
};

TEST_F(BenchOverhead, NativeAndContainerGiveACompleteCheckedReport) {
  auto r = daemon.vessel({"bench", "overhead", "--runs", "1", "--workloads", "cpu,syscall",
                          "--json", "--in", "native,container", "--rootfs", rootfs, "--scale",
                          "0.05", "--workload-program", VESSEL_WORKLOAD_PATH});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  auto report = json::parse(r.out);
  ASSERT_TRUE(report) << r.out;
  expect_complete(*report, {"cpu", "syscall"}, {"native", "container"}, 1);
  EXPECT_EQ((*report)["where"]["container"]["root"], rootfs);
  EXPECT_GT((*report)["where"]["host"]["cpus"].get<int>(), 0);
  expect_no_instances(daemon);

  // Without --json: the table, with P per place.
  auto table = daemon.vessel({"bench", "overhead", "--runs", "2", "--workloads", "file,net", "--in",
                              "native,container", "--rootfs", rootfs, "--scale", "0.02"});
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("P container"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("median of 2 runs"), std::string::npos) << table.out;
  expect_no_instances(daemon);
}

// A program that fails in the container only (its hostname is the instance's name): the run's
// status is reported, nothing is printed as a figure, the container is removed.
TEST_F(BenchOverhead, AFailingRunStopsTheBenchmarkWithItsStatus) {
  std::string wrapper = rootfs + "/../failing-in-containers";
  std::ofstream(wrapper) << "#!/bin/sh\ncase \"$(hostname)\" in bench-overhead-*) echo broken "
                            "inside >&2; exit 3;; esac\n"
                         << "exec " << VESSEL_WORKLOAD_PATH << " \"$@\"\n";
  ASSERT_EQ(::chmod(wrapper.c_str(), 0755), 0);
  auto r = daemon.vessel({"bench", "overhead", "--runs", "1", "--workloads", "cpu", "--json",
                          "--in", "native,container", "--rootfs", rootfs, "--scale", "0.01",
                          "--workload-program", wrapper});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("cpu in container exited with status 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("broken inside"), std::string::npos) << r.err;
  expect_no_instances(daemon);
}

TEST_F(BenchOverhead, BadFlagsAreRefusedWithWhatToDo) {
  for (auto [flags, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--in", "container"}, "--in must include native"},
           {{"--in", "native,moon"}, "no place named 'moon'"},
           {{"--workloads", "gpu"}, "no workload named 'gpu'"},
           {{"--runs", "0"}, "--runs"},
           {{"--in", "native,vm", "--guest", "/no/such/guest"}, "no default guest"},
           {{"--workload-program", "/no/such/program"}, "--workload-program"},
       }) {
    std::vector<std::string> args = {"bench", "overhead"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = daemon.vessel(args);
    EXPECT_NE(r.status, 0) << message;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
  expect_no_instances(daemon);
}

std::string vmm() {
  const char* env = ::getenv("VESSEL_TEST_VMM");
  return env && *env ? env : VESSEL_VMM_PATH;
}

// The default Linux guest booted under vessel-vmm (kvm; the nested KVM host where this machine
// has none): native, container and VM in one report.
TEST(BenchOverheadVm, NativeContainerAndVmGiveACompleteCheckedReport) {
  const char* env = ::getenv("VESSEL_TEST_DEFAULT_GUEST_DIR");
  std::string guest = env && *env ? env : VESSEL_DEFAULT_GUEST_DIR;
  ASSERT_EQ(::access((guest + "/initramfs.cpio").c_str(), R_OK), 0)
      << "build the default guest first (ninja default_guest)";
  TempDir tmp;
  std::string rootfs = tmp.path + "/rootfs";
  make_busybox_rootfs(rootfs);
  Daemon daemon(tmp.path, {"--vmm", vmm()});
  ASSERT_TRUE(daemon.start()) << daemon.log();
  auto r = run({vessel_path(), "--socket", daemon.socket(), "bench", "overhead", "--runs", "1",
                "--workloads", "cpu,syscall", "--json", "--rootfs", rootfs, "--guest", guest,
                "--scale", "0.02", "--workload-program", VESSEL_WORKLOAD_PATH},
               std::chrono::seconds(1800));
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  auto report = json::parse(r.out);
  ASSERT_TRUE(report) << r.out;
  expect_complete(*report, {"cpu", "syscall"}, {"native", "container", "vm"}, 1);
  EXPECT_NE((*report)["where"]["vm"]["kernel"].get<std::string>().find(guest), std::string::npos);
  expect_no_instances(daemon);
}

}  // namespace
}  // namespace vessel::test
