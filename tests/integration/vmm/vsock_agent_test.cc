// End to end (label linux-boot): Debian's kernel with the default guest and a vsock device; the
// host reaches vessel-agent through the device's Unix socket (CONNECT 1024) and runs commands,
// reads stats, copies a file both ways, and shuts the guest down through the agent: the VMM exits 0.
#include <unistd.h>

#include "agent/client/agent_client.h"
#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

using namespace std::chrono_literals;

agent::ExecRequest cmd(std::vector<std::string> argv, bool tty = false) {
  agent::ExecRequest r;
  r.argv = std::move(argv);
  r.tty = tty;
  return r;
}

TEST(VsockAgent, DefaultGuestAnswersExecStatsCopyAndShutdownOverVsock) {
  std::string guest_dir = VESSEL_DEFAULT_GUEST_DIR;
  ASSERT_EQ(access((guest_dir + "/vmlinux").c_str(), R_OK), 0) << "build the default_guest target first";
  auto manifest = json::parse(read_file(guest_dir + "/manifest.json").value_or(""));
  ASSERT_TRUE(manifest);
  ASSERT_TRUE((*manifest)["agent"].get<bool>()) << "the default guest was built without vessel-agent";
  auto boot_args = read_file(guest_dir + "/cmdline");
  ASSERT_TRUE(boot_args);
  while (!boot_args->empty() && boot_args->back() == '\n') boot_args->pop_back();
  TempDir dir;
  std::string uds = dir.file("v.sock");
  json::Json cfg = {
      {"boot-source",
       {{"kernel_image_path", guest_dir + "/vmlinux"},
        {"initrd_path", guest_dir + "/initramfs.cpio"},
        {"boot_args", *boot_args + " -- sleep 900"}}},
      {"machine-config", {{"vcpu_count", 1}, {"mem_size_mib", 256}}},
      {"vsock", {{"guest_cid", 3}, {"uds_path", uds}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  bool pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
  auto boot_timeout = pvm ? std::chrono::milliseconds(55min) : std::chrono::milliseconds(5min);
  VmmProcess vmm({"--config-file", dir.file("vm.json")});
  ASSERT_TRUE(vmm.wait_for_console("vessel-agent: listening on vsock port 1024", boot_timeout))
      << vmm.console() << "\n--- stderr:\n" << vmm.errors();

  auto uname = agent::exec_collect(uds, cmd({"uname", "-r"}), {}, 4096, 60s);
  ASSERT_TRUE(uname) << uname.error().to_string();
  EXPECT_EQ(uname->out, (*manifest)["kernel_version"].get<std::string>() + "\n");
  EXPECT_EQ(uname->status.code, 0);

  auto failing = agent::exec_collect(uds, cmd({"sh", "-c", "echo oops >&2; exit 7"}), {}, 4096, 60s);
  ASSERT_TRUE(failing) << failing.error().to_string();
  EXPECT_EQ(failing->status.code, 7);
  EXPECT_EQ(failing->err, "oops\n");

  std::string input;
  for (int i = 0; i < 20000; ++i) input += "line " + std::to_string(i) + "\n";
  auto cat = agent::exec_collect(uds, cmd({"cat"}), input, 1 << 20, 60s);
  ASSERT_TRUE(cat) << cat.error().to_string();
  EXPECT_EQ(cat->out, input);

  auto tty = agent::exec_collect(uds, cmd({"tty"}, true), {}, 4096, 60s);
  ASSERT_TRUE(tty) << tty.error().to_string();
  EXPECT_NE(tty->out.find("/dev/pts/"), std::string::npos) << tty->out;

  auto stats = agent::request_stats(uds, 60s);
  ASSERT_TRUE(stats) << stats.error().to_string();
  EXPECT_GT(stats->mem_total_kb, 150u * 1024);
  EXPECT_FALSE(stats->filesystems.empty());
  auto health = agent::request_health(uds, 60s);
  ASSERT_TRUE(health) << health.error().to_string();
  EXPECT_GT(health->uptime_s, 0);

  std::string file(100000, 'v');
  auto in = agent::copy_in(uds, "/tmp/copied", 0600, file, 60s);
  ASSERT_TRUE(in) << in.error().to_string();
  auto out = agent::copy_out(uds, "/tmp/copied", 1 << 20, 60s);
  ASSERT_TRUE(out) << out.error().to_string();
  EXPECT_EQ(*out, file);

  auto down = agent::request_shutdown(uds, 60s);
  ASSERT_TRUE(down) << down.error().to_string();
  auto r = vmm.finish(pvm ? std::chrono::milliseconds(10min) : std::chrono::milliseconds(2min));
  EXPECT_EQ(r.status.code, 0) << r.errors;
  EXPECT_NE(r.console.find("vessel-agent: shutdown requested"), std::string::npos);
  bool found = false;
  for (const auto& d : r.metrics["devices"]) {
    if (d["device"] != "virtio-vsock") continue;
    found = true;
    EXPECT_GE(d["host_connects"].get<uint64_t>(), 8u);
    for (const auto& [kind, n] : d["packet_errors"].items()) EXPECT_EQ(n.get<uint64_t>(), 0u) << kind;
    std::printf("vsock metrics: %s\n", d.dump().c_str());
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace vessel::vmm::test
