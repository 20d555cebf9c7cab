#include "hostcheck/host_check.h"

#include <gtest/gtest.h>

namespace vessel::hostcheck {
namespace {

TEST(Verdict, RequiredFailuresBlockTheirKindOnly) {
  Report r;
  r.checks.push_back({"kvm", "/dev/kvm", "missing", false, true, false, "load kvm"});
  r.checks.push_back({"extras", "io_uring", "no", false, false, false, ""});
  r.checks.push_back({"containers", "overlayfs", "yes", true, false, true, ""});
  decide(r);
  EXPECT_FALSE(r.vms_ok);
  EXPECT_TRUE(r.containers_ok);
  ASSERT_EQ(r.vm_problems.size(), 1u);
  EXPECT_EQ(r.vm_problems[0], "/dev/kvm: missing (load kvm)");
}

TEST(Verdict, WarningsDoNotFail) {
  Report r;
  r.checks.push_back({"extras", "KSM", "not available", false, false, false, ""});
  decide(r);
  EXPECT_TRUE(r.vms_ok);
  EXPECT_TRUE(r.containers_ok);
}

TEST(Verdict, JsonHasVerdictAndChecks) {
  Report r;
  r.checks.push_back({"containers", "pid namespace", "no", false, false, true, ""});
  decide(r);
  auto j = r.to_json();
  EXPECT_FALSE(j["containers"]["ok"].get<bool>());
  EXPECT_TRUE(j["vms"]["ok"].get<bool>());
  EXPECT_EQ(j["checks"].size(), 1u);
  EXPECT_EQ(j["checks"][0]["name"], "pid namespace");
  auto table = r.to_table(false);
  EXPECT_NE(table.find("containers: cannot run"), std::string::npos);
  EXPECT_NE(table.find("FAIL pid namespace"), std::string::npos);
}

}  // namespace
}  // namespace vessel::hostcheck
