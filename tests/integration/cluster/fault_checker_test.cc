// The fault checker (fault_checker.h) as a test: a handful of randomized runs, every kind of fault
// at least once per five runs; VESSEL_FAULT_RUNS sets how many (bench/cluster/fault-checker runs
// 100), VESSEL_FAULT_SEED the seed (printed), VESSEL_FAULT_TTL the lease TTL (default 3 s).
#include <gtest/gtest.h>

#include <chrono>

#include "fault_checker.h"

namespace vessel::test {
namespace {

TEST(FaultChecker, RandomizedFaultsNeverRunTwoCopiesNorLoseAnInstance) {
  int runs = env_int("VESSEL_FAULT_RUNS", 5);
  auto seed = static_cast<uint64_t>(env_int("VESSEL_FAULT_SEED", static_cast<int>(std::time(nullptr) % 100000)));
  std::mt19937_64 rng(seed);
  FaultChecker checker(3, std::to_string(env_int("VESSEL_FAULT_TTL", 3)));
  std::string error;
  ASSERT_TRUE(checker.setup(&error)) << error << "\n" << checker.logs();
  Tally tally;
  auto plan = fault_plan(runs, rng);
  for (int i = 0; i < runs; ++i) {
    auto r = checker.run_once(plan[static_cast<size_t>(i)], rng);
    tally.add(r);
    fmt::print("run {:3}: {:20} {:7} {}{}\n", i + 1, to_string(r.kind), r.target,
               r.recovery ? fmt::format("recovered in {:.2f} s", *r.recovery) : std::string("no instance stopped"),
               r.detail.empty() ? "" : "; " + r.detail);
    std::fflush(stdout);
    EXPECT_TRUE(r.detail.empty()) << "run " << i + 1 << " (seed " << seed << "): " << r.detail;
    if (!r.detail.empty() && env_int("VESSEL_FAULT_LOGS", 1)) fmt::print("{}\n", checker.logs());
  }
  fmt::print("{} (seed {})\n", tally.summary(), seed);
  EXPECT_EQ(tally.split_brain, 0);
  EXPECT_EQ(tally.lost, 0);
  EXPECT_EQ(tally.late, 0);
}

}  // namespace
}  // namespace vessel::test
