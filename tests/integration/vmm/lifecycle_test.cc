// Lifecycle: poweroff and reboot exit codes, SIGTERM, and the config file path.
#include <signal.h>

#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

TEST(Lifecycle, I8042ResetEndsTheVmWithStatusZero) {
  auto r = run_vmm({"--kernel", guest("reboot.elf")});
  EXPECT_EQ(r.status.code, 0) << r.errors;
  EXPECT_EQ(r.metrics["exit"]["kind"], "reboot");
  EXPECT_EQ(r.metrics["exit"]["reason"], "i8042 reset");
  // The vCPU stops at the reset: the guest's next line never runs.
  EXPECT_EQ(r.console.find("still alive"), std::string::npos) << r.console;
}

TEST(Lifecycle, RebootExitCodeIsConfigurable) {
  auto r = run_vmm({"--kernel", guest("reboot.elf"), "--reboot-exit-code", "7"});
  EXPECT_EQ(r.status.code, 7) << r.errors;
  EXPECT_EQ(r.metrics["exit"]["kind"], "reboot");
}

TEST(Lifecycle, AcpiPoweroffThroughTheFadtEndsTheVmWithStatusZero) {
  auto r = run_vmm({"--kernel", guest("acpi_poweroff.elf"), "--vcpus", "2"});
  EXPECT_EQ(r.status.code, 0) << r.errors;
  EXPECT_NE(r.console.find("hw_reduced=1 dsdt=ok sleep_ctl space=1 port=600"), std::string::npos) << r.console;
  EXPECT_EQ(r.metrics["exit"]["kind"], "poweroff");
  EXPECT_EQ(r.console.find("still alive"), std::string::npos) << r.console;
}

TEST(Lifecycle, SigtermForcesAStopAfterTheTimeoutWhenTheGuestIgnoresIt) {
  VmmProcess vmm({"--kernel", guest("counter.elf"), "--cmdline", "count=100000", "--shutdown-timeout", "1"});
  ASSERT_TRUE(vmm.wait_for_console("count 2\r\n", std::chrono::seconds(30))) << vmm.console();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(vmm.process().signal(SIGTERM));
  auto r = vmm.finish(std::chrono::seconds(20));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status.code, 128 + SIGTERM) << r.errors;
  EXPECT_EQ(r.metrics["exit"]["kind"], "terminated");
  EXPECT_GE(took, std::chrono::milliseconds(900));
}

TEST(Lifecycle, ConfigFileInFirecrackerShapeBoots) {
  TempDir dir;
  json::Json cfg = {{"boot-source", {{"kernel_image_path", guest("hello.elf")}, {"boot_args", "from config file"}}},
                    {"machine-config", {{"vcpu_count", 2}, {"mem_size_mib", 64}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  auto r = run_vmm({"--config-file", dir.file("vm.json")});
  EXPECT_EQ(r.status.code, 0) << r.errors;
  EXPECT_NE(r.console.find("cmdline=[from config file]"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("cpus=2"), std::string::npos) << r.console;
}

struct BadConfig {
  const char* name;
  const char* json;
  const char* message;
};

void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name; }

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, IsRefusedWithAClearMessage) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("vm.json"), GetParam().json));
  auto r = run_vmm({"--config-file", dir.file("vm.json")});
  EXPECT_EQ(r.status.code, 1);
  EXPECT_NE(r.errors.find(GetParam().message), std::string::npos) << r.errors;
  EXPECT_EQ(r.errors.find("terminate called"), std::string::npos) << r.errors;
}

INSTANTIATE_TEST_SUITE_P(
    Files, BadConfigTest,
    ::testing::Values(
        BadConfig{"not_json", "{boot-source:", "config file"},
        BadConfig{"no_boot_source", R"({"machine-config": {"vcpu_count": 1, "mem_size_mib": 64}})", "missing \"boot-source\""},
        BadConfig{"too_many_vcpus", R"({"boot-source": {"kernel_image_path": "/x"}, "machine-config": {"vcpu_count": 33, "mem_size_mib": 64}})",
                  "vcpu_count: 33 is out of range"},
        BadConfig{"vcpu_string", R"({"boot-source": {"kernel_image_path": "/x"}, "machine-config": {"vcpu_count": "2"}})",
                  "machine-config.vcpu_count"},
        BadConfig{"unknown_field", R"({"boot-source": {"kernel_image_path": "/x", "kernel": 1}})", "kernel"},
        BadConfig{"duplicate_drive", R"({"boot-source": {"kernel_image_path": "/x"}, "drives": [{"drive_id": "a", "path_on_host": "/a"}, {"drive_id": "a", "path_on_host": "/b"}]})",
                  "duplicate drive_id"},
        BadConfig{"missing_kernel", R"({"boot-source": {"kernel_image_path": "/nonexistent/kernel"}})", "/nonexistent/kernel"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace vessel::vmm::test

namespace vessel::vmm::test {
namespace {

TEST(Lifecycle, PanicFollowedByRebootIsReportedAsAPanic) {
  auto r = run_vmm({"--kernel", guest("panic.elf")});
  EXPECT_EQ(r.status.code, 3) << r.errors;
  EXPECT_EQ(r.metrics["exit"]["kind"], "panic");
  EXPECT_NE(r.errors.find("guest kernel panic: Kernel panic - not syncing: vessel test panic"), std::string::npos)
      << r.errors;
}

}  // namespace
}  // namespace vessel::vmm::test

namespace vessel::vmm::test {
namespace {

TEST(Lifecycle, KernelParametersWeAddGoBeforeTheInitArguments) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("d.raw"), std::string(1 << 20, '\0')));
  json::Json cfg = {{"boot-source", {{"kernel_image_path", guest("hello.elf")}, {"boot_args", "console=ttyS0 -- echo hi"}}},
                    {"drives", {{{"drive_id", "d"}, {"path_on_host", dir.file("d.raw")}}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  auto r = run_vmm({"--config-file", dir.file("vm.json")});
  EXPECT_EQ(r.status.code, 0) << r.errors;
  EXPECT_NE(r.console.find("cmdline=[console=ttyS0 virtio_mmio.device=4K@0xd0000000:5 -- echo hi]"), std::string::npos)
      << r.console;
}

}  // namespace
}  // namespace vessel::vmm::test
