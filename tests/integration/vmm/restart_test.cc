// on_reboot: restart ("vessel" extension): a guest reboot builds and boots the VM again in the
// same process. The test-kit guest reboot_once tells its boots apart by a byte on its disk.
#include <signal.h>

#include "http/http.h"
#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

json::Json config(const std::string& kernel, const std::string& disk, const std::string& args, bool restart) {
  json::Json cfg = {{"boot-source", {{"kernel_image_path", guest(kernel)}, {"boot_args", args}}},
                    {"machine-config", {{"vcpu_count", 2}, {"mem_size_mib", 64}}},
                    {"drives", {{{"drive_id", "state"}, {"path_on_host", disk}, {"format", "raw"}}}}};
  if (restart) cfg["vessel"] = {{"on_reboot", "restart"}};
  return cfg;
}

TEST(Restart, GuestRebootBootsTheVmAgainInTheSameProcess) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("state.raw"), std::string(1 << 20, '\0')));
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("reboot_once.elf", dir.file("state.raw"), "", true).dump()));
  auto r = run_vmm({"--config-file", dir.file("vm.json")});
  EXPECT_EQ(r.status.code, 42) << r.errors << r.console;
  auto first = r.console.find("reboot_once: boot 1"), second = r.console.find("reboot_once: boot 2");
  ASSERT_NE(first, std::string::npos) << r.console;
  ASSERT_NE(second, std::string::npos) << r.console;
  EXPECT_LT(first, second);
  EXPECT_EQ(r.console.find("still alive"), std::string::npos) << r.console;
  EXPECT_EQ(r.metrics["reboots"], 1) << r.metrics.dump();
  EXPECT_EQ(r.metrics["exit"]["kind"], "debug-exit");
  EXPECT_EQ(read_file(dir.file("state.raw")).value_or("").at(0), 2);
}

// The vsock device is built again too: its listener and epoll set are made anew by the VMM
// thread under its seccomp list (which then allows AF_UNIX socket, bind, listen, unlink).
TEST(Restart, AVsockDeviceIsBuiltAgainUnderTheFilters) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("state.raw"), std::string(1 << 20, '\0')));
  auto cfg = config("reboot_once.elf", dir.file("state.raw"), "", true);
  cfg["vsock"] = {{"guest_cid", 3}, {"uds_path", dir.file("v.sock")}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  auto r = run_vmm({"--config-file", dir.file("vm.json")});
  EXPECT_EQ(r.status.code, 42) << r.errors << r.console;
  EXPECT_EQ(r.metrics["reboots"], 1) << r.metrics.dump();
  bool vsock = false;
  for (const auto& d : r.metrics["devices"]) vsock |= d["device"] == "virtio-vsock";
  EXPECT_TRUE(vsock) << r.metrics.dump();
}

// A VM loaded from a snapshot keeps its on_reboot policy (docs/vmm/snapshot.md): reboot_once is
// snapshotted while it waits to reset, killed and loaded in a new process, where its reset builds
// and boots the VM again from the snapshot's configuration (the same kernel and disk).
TEST(Restart, ARestoredVmRestartsOnAGuestReboot) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("state.raw"), std::string(1 << 20, '\0')));
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("reboot_once.elf", dir.file("state.raw"), "wait=20", true).dump()));
  std::string sock = dir.file("a.sock"), state = dir.file("vm.state"), mem = dir.file("vm.mem");
  std::string before;
  {
    VmmProcess a({"--api-sock", sock, "--config-file", dir.file("vm.json")});
    ASSERT_TRUE(a.wait_for_file(sock)) << a.errors();
    ASSERT_TRUE(a.wait_for_console("reboot_once: waiting 1\r\n", std::chrono::seconds(60))) << a.console();
    http::ClientOptions o;
    o.unix_socket = sock;
    o.timeout = std::chrono::seconds(60);
    auto paused = http::request(o, "PATCH", "http://localhost/vm", R"({"state": "Paused"})");
    ASSERT_TRUE(paused && paused->status == 204);
    auto created = http::request(o, "PUT", "http://localhost/snapshot/create",
                                 json::Json{{"snapshot_path", state}, {"mem_file_path", mem}}.dump());
    ASSERT_TRUE(created && created->status == 204) << (created ? created->body : created.error().to_string());
    before = a.console();
    (void)a.process().signal(SIGKILL);
    (void)a.finish(std::chrono::seconds(10));
  }
  ASSERT_EQ(before.find("reboot_once: waiting 20"), std::string::npos) << "it reset before the snapshot";
  auto r = run_vmm({"--restore-snapshot", state, "--restore-mem", mem}, std::chrono::seconds(120));
  EXPECT_EQ(r.status.code, 42) << r.errors << r.console;
  EXPECT_NE(r.console.find("reboot_once: waiting 20"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("reboot_once: boot 2"), std::string::npos) << r.console;
  EXPECT_EQ(r.console.find("still alive"), std::string::npos) << r.console;
  EXPECT_EQ(r.metrics["reboots"], 1) << r.metrics.dump();
  EXPECT_EQ(read_file(dir.file("state.raw")).value_or("").at(0), 2);
}

TEST(Restart, WithoutThePolicyARebootEndsTheProcess) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("state.raw"), std::string(1 << 20, '\0')));
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("reboot_once.elf", dir.file("state.raw"), "", false).dump()));
  auto r = run_vmm({"--config-file", dir.file("vm.json")});
  EXPECT_EQ(r.status.code, 0) << r.errors;
  EXPECT_EQ(r.metrics["exit"]["kind"], "reboot");
  EXPECT_EQ(r.metrics["reboots"], 0);
  EXPECT_EQ(r.console.find("reboot_once: boot 2"), std::string::npos) << r.console;
}

TEST(Restart, SigtermStopsARestartingVmInsteadOfRebootingIt) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("state.raw"), std::string(1 << 20, '\0')));
  // ctrl_alt_del with "reboot": Ctrl+Alt+Del makes it reset, as Linux does with reboot=k.
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("ctrl_alt_del.elf", dir.file("state.raw"), "reboot", true).dump()));
  VmmProcess vmm({"--config-file", dir.file("vm.json"), "--shutdown-timeout", "30"});
  ASSERT_TRUE(vmm.wait_for_console("kbd ready", std::chrono::seconds(30))) << vmm.console() << vmm.errors();
  ASSERT_TRUE(vmm.process().signal(SIGTERM));
  auto r = vmm.finish(std::chrono::seconds(30));
  EXPECT_EQ(r.status.code, 0) << r.errors << r.console;
  EXPECT_EQ(r.metrics["exit"]["kind"], "reboot");
  EXPECT_EQ(r.metrics["reboots"], 0);
  EXPECT_NE(r.console.find("ctrl-alt-del received"), std::string::npos) << r.console;
}

TEST(Restart, SendCtrlAltDelRebootsARestartingVmAndTheApiFollowsTheNewIncarnation) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("state.raw"), std::string(1 << 20, '\0')));
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("ctrl_alt_del.elf", dir.file("state.raw"), "reboot", true).dump()));
  std::string sock = dir.file("api.sock");
  VmmProcess vmm({"--config-file", dir.file("vm.json"), "--api-sock", sock, "--shutdown-timeout", "1"});
  ASSERT_TRUE(vmm.wait_for_console("kbd ready", std::chrono::seconds(30))) << vmm.console() << vmm.errors();
  http::ClientOptions o;
  o.unix_socket = sock;
  o.timeout = std::chrono::seconds(10);
  auto sent = http::request(o, "PUT", "http://localhost/actions", R"({"action_type": "SendCtrlAltDel"})");
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->status, 204) << sent->body;
  // The guest resets, the VMM boots it again: a second "kbd ready" and one reboot counted.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  uint64_t reboots = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = http::request(o, "GET", "http://localhost/metrics", "");
    if (m && m->status == 200) {
      auto j = json::parse(m->body);
      if (j && j->contains("reboots")) reboots = (*j)["reboots"].get<uint64_t>();
    }
    std::string c = vmm.console();
    if (reboots == 1 && c.find("kbd ready") != c.rfind("kbd ready")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(reboots, 1u);
  auto state = http::request(o, "GET", "http://localhost/", "");
  ASSERT_TRUE(state);
  EXPECT_NE(state->body.find("Running"), std::string::npos) << state->body;
  ASSERT_TRUE(vmm.process().signal(SIGTERM));
  auto r = vmm.finish(std::chrono::seconds(30));
  // SIGTERM types Ctrl+Alt+Del again: this time the reset ends the process.
  EXPECT_EQ(r.status.code, 0) << r.errors << r.console;
  EXPECT_EQ(r.metrics["reboots"], 1);
}

}  // namespace
}  // namespace vessel::vmm::test
