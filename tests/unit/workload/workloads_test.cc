// vessel-workload: each workload does its work, reports it as one well-formed line of JSON, and
// gives the same checksum for the same work; bad input is a clear error. Small amounts: these
// tests check results, never timings.
#include "workload/workloads.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "base/json.h"
#include "base/process.h"

namespace vessel::workload {
namespace {

namespace fs = std::filesystem;

json::Json parsed(const Outcome& o) {
  auto j = json::parse(to_json(o));
  EXPECT_TRUE(j.has_value()) << to_json(o);
  return j ? *j : json::Json();
}

TEST(Workloads, CpuLoopIsDeterministicAndReportedAsJson) {
  auto a = cpu_loop(100000), b = cpu_loop(100000), c = cpu_loop(100001);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->checksum, b->checksum);
  EXPECT_NE(a->checksum, c->checksum);
  auto j = parsed(*a);
  EXPECT_EQ(j["workload"], "cpu");
  EXPECT_EQ(j["unit"], "iterations");
  EXPECT_EQ(j["work"].get<double>(), 100000);
  EXPECT_GT(j["seconds"].get<double>(), 0);
  EXPECT_GT(j["rate"].get<double>(), 0);
  std::string sum = j["checksum"];
  EXPECT_EQ(sum.size(), 16u);
  EXPECT_EQ(sum.find_first_not_of("0123456789abcdef"), std::string::npos) << sum;
  EXPECT_EQ(std::stoull(sum, nullptr, 16), a->checksum);
}

TEST(Workloads, EachWorkloadReportsItsWorkInItsUnit) {
  auto mem = memory_copy(2);
  ASSERT_TRUE(mem) << mem.error();
  EXPECT_EQ(mem->work, 64);  // 2 copies of 32 MiB
  EXPECT_EQ(mem->unit, "MiB");
  EXPECT_EQ(memory_copy(2)->checksum, mem->checksum);
  auto calls = syscall_loop(1000);
  ASSERT_TRUE(calls) << calls.error();
  EXPECT_EQ(calls->checksum, 1000u);
  auto net = loopback_tcp(2);
  ASSERT_TRUE(net) << net.error();
  EXPECT_EQ(net->checksum, 2u << 20);  // every byte arrived
  EXPECT_EQ(net->work, 2);
  for (const auto* o : {&*mem, &*calls, &*net}) EXPECT_GT(o->seconds, 0) << o->workload;
}

TEST(Workloads, FileIoLeavesNothingBehindAndNamesAMissingDirectory) {
  char tmpl[] = "/tmp/vessel-workload-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  auto a = file_io(2, tmpl), b = file_io(2, tmpl);
  ASSERT_TRUE(a) << a.error();
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(a->work, 16);  // 2 files of 4 MiB, written and read
  EXPECT_EQ(a->checksum, b->checksum);
  EXPECT_TRUE(fs::is_empty(tmpl));
  fs::remove(tmpl);
  auto missing = file_io(1, std::string(tmpl) + "/no/such");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("no/such"), std::string::npos) << missing.error();
  EXPECT_NE(missing.error().find("No such file"), std::string::npos) << missing.error();
}

TEST(Workloads, RunScalesTheWorkAndRefusesBadInput) {
  auto tiny = run("cpu", Options{1e-4, "/tmp"});
  ASSERT_TRUE(tiny) << tiny.error();
  EXPECT_EQ(tiny->work, 10000);  // 100 M x 1e-4
  auto at_least_one = run("syscall", Options{1e-9, "/tmp"});
  ASSERT_TRUE(at_least_one);
  EXPECT_EQ(at_least_one->work, 1);
  EXPECT_FALSE(run("gpu", {}));
  EXPECT_NE(run("gpu", {}).error().find("no workload named 'gpu'"), std::string::npos);
  EXPECT_FALSE(run("cpu", Options{0, "/tmp"}));
  EXPECT_FALSE(run("cpu", Options{-1, "/tmp"}));
  EXPECT_FALSE(run("cpu", Options{2000, "/tmp"}));
  EXPECT_EQ(names(), (std::vector<std::string>{"cpu", "mem", "syscall", "file", "net"}));
}

// The program itself, as `vessel bench overhead` runs it: one line of JSON, exit status 0;
// a failure on stderr with status 1, a usage error with 2.
TEST(WorkloadProgram, PrintsOneJsonLineAndExitsWithClearStatuses) {
  auto ok = run_capture({VESSEL_WORKLOAD_PATH, "net", "--scale", "0.005"});
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->status.success()) << ok->status.to_string();
  EXPECT_EQ(std::count(ok->out.begin(), ok->out.end(), '\n'), 1) << ok->out;
  auto j = json::parse(ok->out);
  ASSERT_TRUE(j) << ok->out;
  EXPECT_EQ((*j)["workload"], "net");
  EXPECT_EQ((*j)["work"].get<double>(), 3);  // 512 MiB x 0.005, rounded
  auto failed =
      run_capture({VESSEL_WORKLOAD_PATH, "file", "--scale", "0.01", "--dir", "/no/such/dir"});
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status.code, 1);
  EXPECT_EQ(failed->out, "");
  for (auto argv :
       std::vector<std::vector<std::string>>{{VESSEL_WORKLOAD_PATH},
                                             {VESSEL_WORKLOAD_PATH, "cpu", "--scale", "x"},
                                             {VESSEL_WORKLOAD_PATH, "cpu", "mem"}}) {
    auto usage = run_capture(argv);
    ASSERT_TRUE(usage);
    EXPECT_EQ(usage->status.code, 2) << argv.size();
  }
  auto list = run_capture({VESSEL_WORKLOAD_PATH, "--list"});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->out, "cpu\nmem\nsyscall\nfile\nnet\n");
}

}  // namespace
}  // namespace vessel::workload
