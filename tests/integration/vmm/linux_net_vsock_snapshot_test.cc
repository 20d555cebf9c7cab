// A stock Linux guest with a network interface and vessel-agent on vsock through a snapshot
// (docs/vmm/snapshot.md; label linux-boot: runs in the nested KVM host on PVM machines). The
// default guest boots on a tap the test made (ip= on its command line) and with a vsock device; the
// host checks the agent and the network, holds an agent connection open, then the VM is paused,
// snapshotted and killed. A new vessel-vmm loads it: the guest heard of a vsock transport reset
// (its connection to the old process is gone), vessel-agent answers over vsock again, and the guest
// pings the host over the tap (backend chosen again: vhost-net where the host has it).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "agent/client/agent_client.h"
#include "http/http.h"
#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

using namespace std::chrono_literals;

http::ClientResponse call(const std::string& sock, const std::string& method,
                          const std::string& path, const std::string& body = {}) {
  http::ClientOptions o;
  o.unix_socket = sock;
  o.timeout = std::chrono::seconds(120);
  auto r = http::request(o, method, "http://localhost" + path, body);
  EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
  return r.value_or(http::ClientResponse{});
}

// A tap with the host's address on it, deleted at the end.
class HostTap {
 public:
  explicit HostTap(std::string name) : name_(std::move(name)) {
    ok_ = run("ip tuntap add " + name_ + " mode tap vnet_hdr") &&
          run("ip addr add 10.0.77.1/24 dev " + name_) && run("ip link set " + name_ + " up");
  }
  ~HostTap() { (void)run("ip link del " + name_); }
  bool ok() const { return ok_; }

 private:
  static bool run(const std::string& cmd) {
    return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
  }
  std::string name_;
  bool ok_ = false;
};

agent::ExecRequest sh(const std::string& script) {
  agent::ExecRequest r;
  r.argv = {"sh", "-c", script};
  return r;
}

json::Json device_metrics(const std::string& sock, const std::string& kind) {
  auto m = json::parse(call(sock, "GET", "/metrics").body);
  if (m && m->contains("devices"))
    for (const auto& d : (*m)["devices"])
      if (d.value("device", "") == kind) return d;
  return json::Json::object();
}

TEST(LinuxNetVsockSnapshot, TheAgentAnswersAndTheNetworkWorksAfterALoadInANewProcess) {
  std::string guest_dir = VESSEL_DEFAULT_GUEST_DIR;
  ASSERT_EQ(access((guest_dir + "/vmlinux").c_str(), R_OK), 0)
      << "build the default_guest target first";
  auto boot_args = read_file(guest_dir + "/cmdline");
  ASSERT_TRUE(boot_args) << "the default guest has no cmdline file: rebuild it";
  while (!boot_args->empty() && boot_args->back() == '\n') boot_args->pop_back();
  ASSERT_EQ(geteuid(), 0u) << "making a tap needs root";
  std::string tap = "vsn" + std::to_string(getpid() % 100000);
  HostTap host_tap(tap);
  ASSERT_TRUE(host_tap.ok()) << "could not make tap " << tap;
  TempDir dir;
  std::string uds = dir.file("v.sock");
  json::Json cfg = {
      {"boot-source",
       {{"kernel_image_path", guest_dir + "/vmlinux"},
        {"initrd_path", guest_dir + "/initramfs.cpio"},
        {"boot_args",
         *boot_args + " ip=10.0.77.2::10.0.77.1:255.255.255.0::eth0:off -- sleep 900"}}},
      {"machine-config", {{"vcpu_count", 1}, {"mem_size_mib", 256}}},
      {"network-interfaces",
       {{{"iface_id", "eth0"}, {"host_dev_name", tap}, {"guest_mac", "06:00:0a:00:4d:02"}}}},
      {"vsock", {{"guest_cid", 3}, {"uds_path", uds}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  std::string sock_a = dir.file("a.sock"), state = dir.file("vm.state"), mem = dir.file("vm.mem");
  bool pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
  auto boot_timeout = pvm ? std::chrono::milliseconds(55min) : std::chrono::milliseconds(5min);
  std::string backend_before;
  {
    VmmProcess a({"--api-sock", sock_a, "--config-file", dir.file("vm.json")});
    ASSERT_TRUE(a.wait_for_file(sock_a)) << a.errors();
    ASSERT_TRUE(a.wait_for_console("vessel-agent: listening on vsock port 1024", boot_timeout))
        << a.console() << "\n--- stderr:\n"
        << a.errors();
    auto ping = agent::exec_collect(uds, sh("ping -c 1 -W 5 10.0.77.1"), {}, 4096, 60s);
    ASSERT_TRUE(ping) << ping.error().to_string();
    EXPECT_EQ(ping->status.code, 0) << ping->out << ping->err << a.console();
    backend_before = device_metrics(sock_a, "virtio-net").value("backend", "");
    // A connection the agent holds open when the snapshot is taken: the restored guest must drop
    // it.
    auto held = agent::connect_vsock(uds, 1024, 30s);
    ASSERT_TRUE(held) << held.error().to_string();
    ASSERT_EQ(call(sock_a, "PATCH", "/vm", R"({"state": "Paused"})").status, 204);
    auto created = call(sock_a, "PUT", "/snapshot/create",
                        json::Json{{"snapshot_path", state}, {"mem_file_path", mem}}.dump());
    ASSERT_EQ(created.status, 204) << created.body;
    ASSERT_TRUE(a.process().signal(SIGKILL));
    (void)a.finish(std::chrono::seconds(20));
  }
  std::string sock_b = dir.file("b.sock");
  VmmProcess b({"--api-sock", sock_b});
  ASSERT_TRUE(b.wait_for_file(sock_b)) << b.errors();
  auto started = std::chrono::steady_clock::now();
  auto loaded = call(sock_b, "PUT", "/snapshot/load",
                     json::Json{{"snapshot_path", state},
                                {"mem_backend", {{"backend_type", "File"}, {"backend_path", mem}}},
                                {"resume_vm", true}}
                         .dump());
  ASSERT_EQ(loaded.status, 204) << loaded.body << b.errors();

  // (a) vessel-agent answers over vsock in the new process (its listening socket survived).
  auto echo = agent::exec_collect(uds, sh("echo restored-$((6*7))"), {}, 4096, 60s);
  ASSERT_TRUE(echo) << echo.error().to_string() << "\n" << b.console() << b.errors();
  EXPECT_EQ(echo->out, "restored-42\n");
  auto agent_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  // (b) the network: the guest pings the host over the tap, attached again by name.
  auto ping = agent::exec_collect(uds, sh("ping -c 3 -W 5 10.0.77.1"), {}, 4096, 60s);
  ASSERT_TRUE(ping) << ping.error().to_string();
  EXPECT_EQ(ping->status.code, 0) << ping->out << ping->err;
  EXPECT_NE(ping->out.find("3 packets received"), std::string::npos) << ping->out;
  json::Json vsock = device_metrics(sock_b, "virtio-vsock");
  EXPECT_EQ(vsock.value("transport_resets", 0), 1) << vsock.dump();
  json::Json net = device_metrics(sock_b, "virtio-net");
  EXPECT_EQ(net.value("backend", ""), backend_before) << net.dump();
  std::printf("restored: agent answered %lld ms after the load request; net backend %s; vsock %s\n",
              static_cast<long long>(agent_ms.count()), net.value("backend", "").c_str(),
              vsock.dump().c_str());

  auto down = agent::request_shutdown(uds, 60s);
  ASSERT_TRUE(down) << down.error().to_string();
  auto r = b.finish(pvm ? std::chrono::milliseconds(10min) : std::chrono::milliseconds(2min));
  EXPECT_EQ(r.status.code, 0) << r.errors << "\n--- console:\n" << r.console;
}

}  // namespace
}  // namespace vessel::vmm::test
