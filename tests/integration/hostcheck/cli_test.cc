// `vessel host check` through the real CLI binary: exit codes, JSON that parses, and the PVM
// explanation on a PVM host.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/json.h"
#include "base/process.h"

namespace vessel {
namespace {

TEST(HostCheckCli, JsonParsesAndMatchesExitStatus) {
  auto r = run_capture({VESSEL_CLI_PATH, "host", "check", "--json"});
  ASSERT_TRUE(r) << r.error().to_string();
  auto j = json::parse(r->out);
  ASSERT_TRUE(j) << r->out;
  bool ok = (*j)["vms"]["ok"].get<bool>() && (*j)["containers"]["ok"].get<bool>();
  EXPECT_EQ(r->status.code, ok ? 0 : 1);
  EXPECT_TRUE((*j)["checks"].is_array());
  EXPECT_GT((*j)["checks"].size(), 20u);
  struct stat st;
  bool vms = (*j)["vms"]["ok"].get<bool>();
  if (stat("/sys/module/kvm_pvm", &st) == 0 && !(*j)["cpu"]["vmx"].get<bool>() && !(*j)["cpu"]["svm"].get<bool>()) {
    EXPECT_EQ((*j)["kvm_flavour"], vms ? "kvm_pvm" : "none");  // never a flavour that is not bound
    std::string state = (*j)["kvm_pvm"]["state"];
    EXPECT_TRUE(vms ? state == "bound" : state == "not bound" || state == "unverified") << state;
  }
  EXPECT_EQ((*j)["vms"]["advice"].empty(), vms);
}

TEST(HostCheckCli, TableExplainsPvmAndGivesAVerdict) {
  auto r = run_capture({VESSEL_CLI_PATH, "host", "check"});
  ASSERT_TRUE(r);
  EXPECT_NE(r->out.find("verdict"), std::string::npos);
  EXPECT_NE(r->out.find("VMs:"), std::string::npos);
  struct stat st;
  EXPECT_NE(r->out.find("KVM:"), std::string::npos);
  if (stat("/sys/module/kvm_pvm", &st) == 0) {
    EXPECT_NE(r->out.find("kvm_pvm"), std::string::npos);
    if (r->out.find("KVM:        kvm_pvm\n") != std::string::npos) {  // bound: the PVM explanation
      EXPECT_NE(r->out.find("emulated"), std::string::npos);
    }
  }
}

TEST(HostCheckCli, UsageErrorExitsTwo) {
  auto r = run_capture({VESSEL_CLI_PATH, "host", "check", "--no-such-flag"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status.code, 2);
}

}  // namespace
}  // namespace vessel
