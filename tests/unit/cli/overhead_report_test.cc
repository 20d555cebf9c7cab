// `vessel bench overhead`'s figures: vessel-workload's line checked, medians, P = T_native /
// T_place, the same work required everywhere, and the JSON and table built from them.
#include "cli/overhead_report.h"

#include <gtest/gtest.h>

namespace vessel::cli::overhead {
namespace {

std::string line(const std::string& workload, double seconds,
                 const std::string& checksum = "00000000000000ff", double work = 100) {
  return fmt::format(
             R"({{"workload":"{}","work":{},"unit":"MiB","seconds":{},"rate":1,"checksum":"{}"}})",
             workload, work, seconds, checksum) +
         "\n";
}

Outcome outcome(const std::string& workload, double seconds,
                const std::string& checksum = "00000000000000ff") {
  auto o = parse_outcome(line(workload, seconds, checksum), workload);
  EXPECT_TRUE(o.has_value());
  return *o;
}

TEST(OverheadReport, ParsesTheWorkloadsLineAndRefusesAnythingElse) {
  auto o = parse_outcome(line("mem", 0.25), "mem");
  ASSERT_TRUE(o) << o.error().to_string();
  EXPECT_EQ(o->workload, "mem");
  EXPECT_EQ(o->unit, "MiB");
  EXPECT_EQ(o->work, 100);
  EXPECT_EQ(o->seconds, 0.25);
  EXPECT_EQ(o->checksum, "00000000000000ff");
  // A VM's exec output carries stderr too: the last line is the outcome.
  EXPECT_TRUE(parse_outcome("a kernel message\n" + line("mem", 0.25), "mem"));
  for (const std::string& bad :
       {std::string(""), std::string("garbage"), std::string("[1,2]"), line("cpu", 0.25),
        line("mem", 0), line("mem", -1), line("mem", 1, "x", 0),
        std::string(R"({"workload":"mem","work":1,"unit":"MiB","seconds":"1","checksum":"0"})"),
        std::string(R"({"workload":"mem","work":1,"seconds":1,"checksum":"0"})")}) {
    auto r = parse_outcome(bad, "mem");
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().to_string().find("vessel-workload mem"), std::string::npos)
        << r.error().to_string();
  }
}

TEST(OverheadReport, MediansAndTheRatioAgainstNative) {
  EXPECT_EQ(median({3, 1, 2}), 2);
  EXPECT_EQ(median({4, 1, 2, 3}), 2.5);
  EXPECT_EQ(median({}), 0);
  WorkloadFigures w;
  for (double t : {1.0, 1.2, 0.8}) ASSERT_TRUE(add_sample(w, "native", outcome("mem", t), t + 0.1));
  for (double t : {2.0, 2.2, 1.9}) ASSERT_TRUE(add_sample(w, "vm", outcome("mem", t), t + 0.5));
  ASSERT_TRUE(add_sample(w, "container", outcome("mem", 1.25), 1.3));
  EXPECT_EQ(median_seconds(w, "native"), 1.0);
  EXPECT_EQ(median_seconds(w, "vm"), 2.0);
  EXPECT_DOUBLE_EQ(*efficiency(w, "vm"), 0.5);  // twice as long as on the host
  EXPECT_DOUBLE_EQ(*efficiency(w, "container"), 0.8);
  EXPECT_FALSE(efficiency(w, "elsewhere"));
  WorkloadFigures no_native;
  ASSERT_TRUE(add_sample(no_native, "vm", outcome("mem", 1), 1));
  EXPECT_FALSE(efficiency(no_native, "vm"));
}

TEST(OverheadReport, RefusesRunsThatDidOtherWork) {
  WorkloadFigures w;
  ASSERT_TRUE(add_sample(w, "native", outcome("mem", 1), 1));
  auto other = add_sample(w, "vm", outcome("mem", 1, "00000000000000fe"), 1);
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().to_string().find("did other work"), std::string::npos)
      << other.error().to_string();
  auto more = parse_outcome(line("mem", 1, "00000000000000ff", 200), "mem");
  ASSERT_TRUE(more);
  EXPECT_FALSE(add_sample(w, "vm", *more, 1));
  EXPECT_EQ(w.samples.count("vm"), 0u);  // nothing of a refused run is kept
}

TEST(OverheadReport, JsonAndTableCarryEveryRunTheMediansAndP) {
  Report r;
  r.runs = 2;
  r.places = {"native", "container", "vm"};
  WorkloadFigures w;
  for (auto [place, t] : std::vector<std::pair<std::string, double>>{{"native", 0.1},
                                                                     {"container", 0.1},
                                                                     {"vm", 0.4},
                                                                     {"native", 0.1},
                                                                     {"container", 0.125},
                                                                     {"vm", 0.4}})
    ASSERT_TRUE(add_sample(w, place, outcome("cpu", t), t * 2));
  r.workloads.push_back(w);
  auto j = to_json(r);
  ASSERT_EQ(j["workloads"].size(), 1u);
  const auto& cpu = j["workloads"][0];
  EXPECT_EQ(cpu["name"], "cpu");
  EXPECT_EQ(cpu["places"]["vm"]["seconds"], json::Json({0.4, 0.4}));
  EXPECT_EQ(cpu["places"]["vm"]["wall_seconds"], json::Json({0.8, 0.8}));
  EXPECT_EQ(cpu["places"]["native"]["exit_status"], json::Json({0, 0}));
  EXPECT_DOUBLE_EQ(cpu["places"]["container"]["median_seconds"].get<double>(), 0.1125);
  EXPECT_DOUBLE_EQ(cpu["p"]["vm"].get<double>(), 0.25);
  EXPECT_FALSE(cpu["p"].contains("native"));
  EXPECT_EQ(j["runs"], 2);
  auto table = to_table(r);
  EXPECT_NE(table.find("P vm"), std::string::npos) << table;
  EXPECT_NE(table.find("0.25"), std::string::npos) << table;
  EXPECT_NE(table.find("400.0 ms"), std::string::npos) << table;
  EXPECT_NE(table.find("100 MiB"), std::string::npos) << table;
}

}  // namespace
}  // namespace vessel::cli::overhead
