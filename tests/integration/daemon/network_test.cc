// Networks for real (docs/daemon/networks.md): vesseld makes bridges, netns, veths and its
// nftables table on this host; containers reach each other and the host reaches their published
// ports. Every test daemon uses its own bridge names, subnets and table (derived from the test
// process's pid), and the fixture deletes them even when a test fails.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/fd.h"
#include "daemon_fixture.h"
#include "network_kit.h"

namespace vessel::test {
namespace {

namespace fs = std::filesystem;

// An HTTP GET by busybox nc (busybox-static's wget crashes in getaddrinfo on Debian 12).
std::string http_get(const std::string& address) {
  return "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 " + address + " 80";
}

class Network : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs = tmp.path + "/rootfs";
    make_busybox_rootfs(rootfs);
    for (const char* a : {"httpd", "nc", "ip", "nslookup"}) fs::create_symlink("busybox", rootfs + "/bin/" + a);
    fs::create_directories(rootfs + "/www");
    std::ofstream(rootfs + "/www/index.html") << "hello from a vessel container\n";
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  std::vector<std::string> flags() const {
    auto f = network_flags(names);
    f.insert(f.end(), {"--userns-pool", "1500000000:131072"});
    return f;
  }
  // An HTTP status from the API (curl over the Unix socket).
  int api_status(const std::string& method, const std::string& path, const std::string& body = "") {
    std::vector<std::string> argv{"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", daemon.socket(),
                                  "-X", method, "http://vessel" + path};
    if (!body.empty()) argv.insert(argv.end(), {"-H", "Content-Type: application/json", "-d", body});
    auto r = run(argv);
    return std::atoi(r.out.c_str());
  }
  std::string nft_table() { return run({"nft", "list", "table", "ip", names.table}).out; }
  CliResult curl(uint16_t port) { return run({"curl", "-s", "-m", "5", fmt::format("http://127.0.0.1:{}/index.html", port)}); }

  Names names;
  HostCleanup cleanup{names};
  TempDir tmp;
  std::string rootfs;
  Daemon daemon{tmp.path, flags()};
};

TEST_F(Network, CreateListInspectRemoveAndTheirErrors) {
  auto ls = daemon.vessel_json({"network", "ls", "--json"});
  ASSERT_TRUE(ls.is_array() && ls.size() == 1) << ls.dump();
  EXPECT_EQ(ls[0].value("name", ""), "vessel");
  EXPECT_EQ(ls[0].value("subnet", ""), names.subnet(0));
  EXPECT_TRUE(ls[0].value("default", false));

  auto created = daemon.vessel({"network", "create", "--subnet", names.subnet(1), "backend"});
  ASSERT_EQ(created.status, 0) << created.err << daemon.log();
  auto j = daemon.vessel_json({"network", "inspect", "backend"});
  EXPECT_EQ(j.value("subnet", ""), names.subnet(1));
  EXPECT_EQ(j.value("gateway", ""), fmt::format("10.{}.1.1", names.octet));
  std::string bridge = j.value("bridge", "");
  EXPECT_TRUE(fs::exists("/sys/class/net/" + bridge + "/bridge")) << bridge;
  auto table = daemon.vessel({"network", "ls"}).out;
  EXPECT_EQ(table.rfind("NAME", 0), 0u) << table;
  EXPECT_NE(table.find("backend"), std::string::npos) << table;

  // 400: a bad subnet, a gateway outside it, an overlap with a network or with a host route.
  EXPECT_EQ(api_status("POST", "/v1/networks", R"({"name":"x","subnet":"10.1.2.3/8"})"), 400);
  EXPECT_EQ(api_status("POST", "/v1/networks", fmt::format(R"({{"name":"x","subnet":"{}","gateway":"10.1.1.1"}})", names.subnet(2))), 400);
  EXPECT_EQ(api_status("POST", "/v1/networks", fmt::format(R"({{"name":"x","subnet":"10.{}.1.128/25"}})", names.octet)), 400);
  auto overlap = daemon.vessel({"network", "create", "--subnet", fmt::format("10.{}.0.0/16", names.octet), "wide"});
  EXPECT_NE(overlap.err.find("overlaps network"), std::string::npos) << overlap.err;
  if (auto eth = run({"sh", "-c", "ip -4 route show scope link | awk '$1 ~ /\\// && $3 !~ /^vt/ {print $1; exit}'"}).out; !eth.empty()) {
    eth.pop_back();
    auto host = daemon.vessel({"network", "create", "--subnet", eth, "shadow"});
    EXPECT_NE(host.err.find("overlaps the host's route"), std::string::npos) << eth << ": " << host.err;
  }
  // 409: the name is taken, or the network has members; 404: unknown.
  EXPECT_EQ(api_status("POST", "/v1/networks", fmt::format(R"({{"name":"backend","subnet":"{}"}})", names.subnet(3))), 409);
  ASSERT_EQ(daemon.vessel({"create", "--name", "member", "--network", "backend", "--rootfs", rootfs, "--", "sleep", "100"}).status, 0);
  auto inspect = daemon.vessel_json({"network", "inspect", "backend"});
  ASSERT_EQ(inspect["members"].size(), 1u) << inspect.dump();
  EXPECT_EQ(inspect["members"][0].value("address", ""), fmt::format("10.{}.1.2", names.octet));
  EXPECT_EQ(api_status("DELETE", "/v1/networks/backend"), 409);
  auto busy = daemon.vessel({"network", "rm", "backend"});
  EXPECT_NE(busy.err.find("has members: member"), std::string::npos) << busy.err;
  EXPECT_EQ(api_status("GET", "/v1/networks/nosuch"), 404);
  EXPECT_EQ(api_status("DELETE", "/v1/networks/nosuch"), 404);
  EXPECT_EQ(daemon.vessel({"run", "--network", "nosuch", "--rootfs", rootfs, "--", "true"}).status, 1);

  // The address goes back to the pool with the instance; then the network can go.
  ASSERT_EQ(daemon.vessel({"rm", "member"}).status, 0);
  EXPECT_TRUE(daemon.vessel_json({"network", "inspect", "backend"})["members"].empty());
  ASSERT_EQ(daemon.vessel({"network", "rm", "backend"}).status, 0);
  EXPECT_FALSE(fs::exists("/sys/class/net/" + bridge));
  EXPECT_EQ(api_status("DELETE", "/v1/networks/vessel"), 409);  // the default network stays
}

TEST_F(Network, PublishedPortAnswersOnLocalhostAndNothingLeaksAfterStopAndRm) {
  uint16_t port = free_port(8080);
  ASSERT_NE(port, 0);
  auto r = daemon.vessel({"run", "--name", "web", "-p", fmt::format("{}:80", port), "--rootfs", rootfs, "--",
                          "/bin/httpd", "-f", "-p", "80", "-h", "/www"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  CliResult got;
  EXPECT_TRUE(eventually([&] { return (got = curl(port)).out == "hello from a vessel container\n"; }))
      << got.status << " " << got.err << "\n" << nft_table() << daemon.log();
  auto lines = daemon.vessel({"port", "web"});
  EXPECT_EQ(lines.out, fmt::format("80/tcp -> 0.0.0.0:{}\n", port));
  auto web = daemon.vessel_json({"inspect", "web"});
  EXPECT_EQ(web.value("network", ""), "vessel");
  EXPECT_EQ(web.value("ip_address", ""), fmt::format("10.{}.0.2", names.octet));
  auto veths = links_with_prefix(names.prefix);
  EXPECT_EQ(veths.size(), 2u);  // the default bridge and the instance's veth

  // The same host port again: 409, from another instance or from a host process.
  auto clash = daemon.vessel({"run", "--name", "web2", "-p", fmt::format("{}:80", port), "--rootfs", rootfs, "--", "sleep", "100"});
  EXPECT_EQ(clash.status, 1);
  EXPECT_NE(clash.err.find("already published by web"), std::string::npos) << clash.err;
  uint16_t held = free_port(static_cast<uint16_t>(port + 1));
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(held);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  ASSERT_EQ(daemon.vessel({"create", "--name", "web3", "-p", fmt::format("{}:80", held), "--rootfs", rootfs, "--", "sleep", "100"}).status, 0);
  EXPECT_EQ(api_status("POST", "/v1/instances/web3/start"), 409);
  auto held_err = daemon.vessel({"start", "web3"});
  EXPECT_NE(held_err.err.find("in use by a process on the host"), std::string::npos) << held_err.err;

  // Stop: the rule, the veth and the netns go; rm: the address too.
  ASSERT_EQ(daemon.vessel({"stop", "-t", "0", "web"}).status, 0);
  EXPECT_EQ(nft_table().find("dnat to"), std::string::npos) << nft_table();
  EXPECT_EQ(links_with_prefix(names.prefix).size(), 1u);
  EXPECT_FALSE(fs::exists(daemon.state_dir() + "/netns/web"));
  EXPECT_NE(curl(port).status, 0);
  ASSERT_EQ(daemon.vessel({"rm", "web"}).status, 0);
  auto members = daemon.vessel_json({"network", "inspect", "vessel"})["members"];
  for (const auto& m : members) EXPECT_NE(m.value("instance", ""), "web") << members.dump();
}

// --userns=auto: root inside is unprivileged in the network namespace vesseld made (the host's
// user namespace owns it): port 80 still binds (ip_unprivileged_port_start=0, as Docker), and
// exec joins that namespace before the container's user namespace.
TEST_F(Network, AUsernsAutoContainerServesAPublishedPortAndTakesExec) {
  uint16_t port = free_port(8280);
  ASSERT_EQ(::chmod(tmp.path.c_str(), 0711), 0);  // the container's ids reach the state dir (userns.md)
  ASSERT_EQ(daemon.vessel({"run", "--name", "web", "--userns", "auto", "-p", fmt::format("{}:80", port), "--rootfs", rootfs,
                           "--", "/bin/httpd", "-f", "-p", "80", "-h", "/www"}).status, 0) << daemon.log();
  CliResult got;
  EXPECT_TRUE(eventually([&] { return (got = curl(port)).out == "hello from a vessel container\n"; }))
      << got.err << daemon.vessel({"logs", "web"}).out << daemon.log();
  auto addr = daemon.vessel({"exec", "web", "--", "ip", "-4", "addr", "show", "eth0"});
  EXPECT_EQ(addr.status, 0) << addr.err;
  EXPECT_NE(addr.out.find(fmt::format("inet 10.{}.0.2/24", names.octet)), std::string::npos) << addr.out;
}

TEST_F(Network, DaemonRestartRebuildsTheRulesAndKeepsRunningInstancesReachable) {
  uint16_t port = free_port(8180);
  ASSERT_EQ(daemon.vessel({"run", "--name", "web", "-p", fmt::format("127.0.0.1:{}:80", port), "--rootfs", rootfs, "--",
                           "/bin/httpd", "-f", "-p", "80", "-h", "/www"}).status, 0) << daemon.log();
  ASSERT_TRUE(eventually([&] { return curl(port).status == 0; })) << nft_table();
  ASSERT_EQ(daemon.vessel({"create", "--name", "idle", "--rootfs", rootfs, "--", "sleep", "100"}).status, 0);
  daemon.stop();
  // What a reboot of the rules would leave: no table; and a stale veth of an instance not running.
  run({"nft", "delete", "table", "ip", names.table});
  ASSERT_NE(curl(port).status, 0);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  EXPECT_TRUE(eventually([&] { return curl(port).out == "hello from a vessel container\n"; })) << nft_table() << daemon.log();
  EXPECT_NE(nft_table().find(fmt::format("ip daddr 127.0.0.1 tcp dport {} dnat to", port)), std::string::npos) << nft_table();
}

TEST_F(Network, AContainerThatDiedWhileTheDaemonWasDownLeavesNoVethNorNetns) {
  ASSERT_EQ(daemon.vessel({"run", "--name", "doomed", "--rootfs", rootfs, "--", "sleep", "1000"}).status, 0) << daemon.log();
  pid_t pid = daemon.vessel_json({"inspect", "doomed"}).value("pid", 0);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(links_with_prefix(names.prefix).size(), 2u);  // the bridge and the veth
  daemon.stop();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return !alive(pid); }));
  // The netns is still bind-mounted, so the veth lives on until the restarted vesseld reconciles.
  ASSERT_EQ(links_with_prefix(names.prefix).size(), 2u);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  EXPECT_TRUE(eventually([&] { return links_with_prefix(names.prefix).size() == 1; })) << daemon.log();
  EXPECT_FALSE(fs::exists(daemon.state_dir() + "/netns/doomed"));
  EXPECT_EQ(daemon.vessel_json({"inspect", "doomed"}).value("state", ""), "stopped");
  // Its address is kept until it is deleted, and it starts again with it.
  ASSERT_EQ(daemon.vessel({"start", "doomed"}).status, 0) << daemon.log();
  EXPECT_EQ(daemon.vessel_json({"inspect", "doomed"}).value("ip_address", ""), fmt::format("10.{}.0.2", names.octet));
}

TEST_F(Network, ContainersReachEachOtherOnOneNetworkButNotAcrossNetworks) {
  ASSERT_EQ(daemon.vessel({"network", "create", "--subnet", names.subnet(5), "left"}).status, 0) << daemon.log();
  ASSERT_EQ(daemon.vessel({"network", "create", "--subnet", names.subnet(6), "right"}).status, 0);
  for (auto [name, net] : {std::pair{"server", "left"}, std::pair{"far", "right"}})
    ASSERT_EQ(daemon.vessel({"run", "--name", name, "--network", net, "--rootfs", rootfs, "--", "/bin/httpd", "-f", "-p", "80",
                             "-h", "/www"}).status, 0) << daemon.log();
  ASSERT_EQ(daemon.vessel({"run", "--name", "client", "--network", "left", "--rootfs", rootfs, "--", "sleep", "1000"}).status, 0);
  std::string server = daemon.vessel_json({"inspect", "server"}).value("ip_address", "");
  std::string far = daemon.vessel_json({"inspect", "far"}).value("ip_address", "");
  ASSERT_FALSE(server.empty());
  CliResult got;
  EXPECT_TRUE(eventually([&] {
    got = daemon.vessel({"exec", "client", "--", "sh", "-c", http_get(server)});
    return got.out.find("hello from a vessel container") != std::string::npos;
  }, 40)) << got.out << got.err;
  auto across = daemon.vessel({"exec", "client", "--", "sh", "-c", http_get(far)});
  EXPECT_EQ(across.out.find("hello"), std::string::npos) << across.out;
  // The far server itself answers (the drop is the isolation, not a dead server).
  auto near_far = daemon.vessel({"exec", "far", "--", "sh", "-c", http_get("127.0.0.1")});
  EXPECT_NE(near_far.out.find("hello from a vessel container"), std::string::npos) << near_far.out << near_far.err;
  // --network none: loopback only; host: the host's interfaces.
  ASSERT_EQ(daemon.vessel({"run", "--name", "alone", "--network", "none", "--rootfs", rootfs, "--", "sleep", "100"}).status, 0);
  auto links = daemon.vessel({"exec", "alone", "--", "ls", "/sys/class/net"});
  EXPECT_EQ(links.out, "lo\n");
  ASSERT_EQ(daemon.vessel({"run", "--name", "hostnet", "--network", "host", "--rootfs", rootfs, "--", "sleep", "100"}).status, 0);
  auto host_links = daemon.vessel({"exec", "hostnet", "--", "ls", "/sys/class/net"});
  EXPECT_NE(host_links.out.find(names.prefix), std::string::npos) << host_links.out;  // the bridges
}

}  // namespace
}  // namespace vessel::test

namespace vessel::test {
namespace {

TEST_F(Network, ContainersOnAUserNetworkReachEachOtherByName) {
  ASSERT_EQ(daemon.vessel({"network", "create", "--subnet", names.subnet(7), "named"}).status, 0) << daemon.log();
  ASSERT_EQ(daemon.vessel({"run", "--name", "Server", "--network", "named", "--rootfs", rootfs, "--", "/bin/httpd", "-f",
                           "-p", "80", "-h", "/www"}).status, 0) << daemon.log();
  ASSERT_EQ(daemon.vessel({"run", "--name", "client", "--network", "named", "--rootfs", rootfs, "--", "sleep", "1000"}).status, 0);
  std::string gateway = fmt::format("10.{}.7.1", names.octet);
  auto resolv = daemon.vessel({"exec", "client", "--", "cat", "/etc/resolv.conf"});
  EXPECT_NE(resolv.out.find("nameserver " + gateway + "\n"), std::string::npos) << resolv.out;
  auto hosts = daemon.vessel({"exec", "client", "--", "cat", "/etc/hosts"});
  EXPECT_NE(hosts.out.find(fmt::format("10.{}.7.3\tclient\n", names.octet)), std::string::npos) << hosts.out;
  // By name (any case), through vesseld's DNS server on the gateway.
  CliResult got;
  EXPECT_TRUE(eventually([&] {
    got = daemon.vessel({"exec", "client", "--", "sh", "-c", http_get("server")});
    return got.out.find("hello from a vessel container") != std::string::npos;
  }, 40)) << got.out << got.err << daemon.log();
  auto lookup = daemon.vessel({"exec", "client", "--", "nslookup", "SERVER"});
  EXPECT_NE(lookup.out.find(fmt::format("Address: 10.{}.7.2", names.octet)), std::string::npos) << lookup.out << lookup.err;
  // A stopped instance's name is no longer answered.
  ASSERT_EQ(daemon.vessel({"stop", "-t", "0", "Server"}).status, 0);
  auto gone = daemon.vessel({"exec", "client", "--", "nslookup", "server", gateway});
  EXPECT_EQ(gone.out.find(fmt::format("Address: 10.{}.7.2", names.octet)), std::string::npos) << gone.out;
}

}  // namespace
}  // namespace vessel::test

#include "daemon/network/rtnetlink.h"
#include "daemon/network/tap.h"

namespace vessel::test {
namespace {

std::string sysfs(const std::string& link, const std::string& file) {
  auto text = read_file("/sys/class/net/" + link + "/" + file);
  if (!text) return "";
  while (!text->empty() && text->back() == '\n') text->pop_back();
  return *text;
}

// A VM's tap as vesseld makes it before vessel-vmm starts: persistent, owned by the VM's jail
// uid and gid, on the network's bridge, up; a stale one of the same name is replaced.
TEST(VmTap, IsPersistentOwnedByTheVmsIdsAndOnTheBridge) {
  Names names;
  std::string bridge = names.prefix + "tb", tap = names.prefix + "tap";
  struct Cleanup {
    std::vector<std::string> links;
    ~Cleanup() {
      for (const auto& l : links) run({"ip", "link", "del", l});
    }
  } cleanup{{tap, bridge}};
  auto rt = daemon::Rtnetlink::open();
  ASSERT_TRUE(rt) << rt.error().to_string();
  ASSERT_TRUE(rt->add_bridge(bridge));
  auto made = daemon::create_vm_tap(tap, 900123, 900123, bridge);
  ASSERT_TRUE(made) << made.error().to_string();
  EXPECT_EQ(sysfs(tap, "owner"), "900123");
  EXPECT_EQ(sysfs(tap, "group"), "900123");
  EXPECT_TRUE(fs::exists("/sys/class/net/" + tap + "/master/bridge")) << "not on " << bridge;
  EXPECT_EQ(fs::read_symlink("/sys/class/net/" + tap + "/master").filename().string(), bridge);
  EXPECT_NE(std::stoul(sysfs(tap, "flags"), nullptr, 16) & 1, 0u);  // IFF_UP
  // Another owner: the stale tap is replaced, not reused.
  ASSERT_TRUE(daemon::create_vm_tap(tap, 900124, 900124, bridge));
  EXPECT_EQ(sysfs(tap, "owner"), "900124");
  ASSERT_TRUE(rt->delete_link(tap));
  EXPECT_FALSE(fs::exists("/sys/class/net/" + tap));
}

}  // namespace
}  // namespace vessel::test

namespace vessel::test {
namespace {

// VMs join a network only when asked; on one they hold an address like containers (their tap and
// the kernel's ip= are made at start: tests/unit/daemon/vm_nic_test.cc, VmTap above).
TEST_F(Network, VmsJoinANetworkWhenAskedOrWhenTheyPublishPorts) {
  std::string kernel = tmp.path + "/vmlinuz";
  std::ofstream(kernel) << "not booted by this test";
  ASSERT_EQ(daemon.vessel({"create", "--vm", "--name", "plain", "--kernel", kernel}).status, 0) << daemon.log();
  auto plain = daemon.vessel_json({"inspect", "plain"});
  EXPECT_FALSE(plain.contains("network")) << plain.dump();
  EXPECT_FALSE(plain.contains("ip_address"));
  ASSERT_EQ(daemon.vessel({"create", "--vm", "--name", "vm1", "--network", "vessel", "-p", "8443:443", "--kernel", kernel}).status, 0)
      << daemon.log();
  auto vm = daemon.vessel_json({"inspect", "vm1"});
  EXPECT_EQ(vm.value("network", ""), "vessel");
  EXPECT_EQ(vm.value("ip_address", ""), fmt::format("10.{}.0.2", names.octet));
  EXPECT_EQ(daemon.vessel({"port", "vm1"}).out, "443/tcp -> 0.0.0.0:8443\n");
  EXPECT_EQ(api_status("POST", "/v1/instances", fmt::format(R"({{"name":"h","type":"vm","kernel":"{}","network":"host"}})", kernel)), 400);
  EXPECT_EQ(api_status("POST", "/v1/instances",
                       fmt::format(R"({{"name":"p","type":"vm","kernel":"{}","network":"none","ports":["80:80"]}})", kernel)),
            400);
  // -p without --network: the default network, as Docker's -p.
  ASSERT_EQ(daemon.vessel({"create", "--vm", "--name", "vm2", "-p", "8444:443", "--kernel", kernel}).status, 0) << daemon.log();
  EXPECT_EQ(daemon.vessel_json({"inspect", "vm2"}).value("network", ""), "vessel");
  ASSERT_EQ(daemon.vessel({"rm", "vm1", "vm2"}).status, 0);
  EXPECT_TRUE(daemon.vessel_json({"network", "inspect", "vessel"})["members"].empty());
}

}  // namespace
}  // namespace vessel::test
