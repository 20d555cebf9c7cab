// vessel migrate between two vesselds that reach each other as two hosts do, on their TLS APIs
// (--listen, each trusting the other's certificate as an operator), label kvm: the counter guest
// goes from A to B with its memory inside TLS (the default: B's vessel-vmm listens on a Unix
// socket, B's vesseld takes the stream on a TLS listener of its own and relays it), then back
// from B to A with --stream tcp (vessel-vmm to vessel-vmm, with the one-time token); it counts
// on both times.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "daemon_fixture.h"
#include "free_tcp_port.h"
#include "vm_test_kit.h"

namespace vessel::test {
namespace {

struct Host {
  Host(std::vector<std::string> flags, const std::string& guests) {
    for (std::string f : {std::string("--listen"), "tcp://127.0.0.1:" + std::to_string(port), std::string("--allowed-host-path"), guests})
      flags.push_back(f);
    daemon = std::make_unique<Daemon>(tmp.path, flags);
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port); }
  std::string fingerprint() const {
    auto fp = read_file(daemon->state_dir() + "/tls/server.fingerprint");
    return fp ? fp->substr(0, fp->find('\n')) : "";
  }
  TempDir tmp;
  int port = free_tcp_port();
  std::unique_ptr<Daemon> daemon;
};

// Migrates vm1 from `from` to `to`, checks its report and that it counts on there from where it was.
void migrate_and_count_on(Host& from, Host& to, const std::vector<std::string>& flags, const std::string& stream) {
  auto before = logged_counts(*from.daemon, "vm1");
  ASSERT_FALSE(before.empty());
  std::vector<std::string> args{"migrate", "vm1", "--to", to.url(), "--to-fingerprint", to.fingerprint(), "--json"};
  args.insert(args.end(), flags.begin(), flags.end());
  auto moved = from.daemon->vessel(args);
  ASSERT_EQ(moved.status, 0) << moved.err << from.daemon->log() << to.daemon->log();
  auto report = json::parse(moved.out).value_or(json::Json());
  EXPECT_EQ(report.value("stream", ""), stream) << moved.out;
  EXPECT_GT(report.value("bytes", uint64_t{0}), 0u);
  std::cout << "migration between hosts over " << stream << ": downtime " << report.value("downtime_ms", 0.0)
            << " ms, vessel-vmm total " << report.value("total_ms", 0.0) << " ms, through vesseld "
            << report.value("daemon_total_ms", 0.0) << " ms, " << report.value("bytes", uint64_t{0}) << " bytes\n";
  EXPECT_NE(from.daemon->vessel({"inspect", "vm1"}).status, 0) << "the source forgot it";
  ASSERT_EQ(state_of(*to.daemon, "vm1"), "running") << to.daemon->log();
  ASSERT_TRUE(eventually([&] { return logged_counts(*to.daemon, "vm1").size() >= 2; }, 600)) << to.daemon->log();
  auto after = logged_counts(*to.daemon, "vm1");
  EXPECT_GE(after.front(), before.back()) << "it started again instead of moving";
}

TEST(VmMigrate, BetweenHostsTheMemoryGoesInsideTlsOrOverTcpWhenAsked) {
  ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
  std::string guests = std::filesystem::path(guest("counter")).parent_path();
  SecondCgroupParent parent_b;
  Host a({"--vmm", vmm()}, guests), b(second_vm_daemon_flags(parent_b.name), guests);
  ASSERT_TRUE(a.daemon->start()) << a.daemon->log();
  ASSERT_TRUE(b.daemon->start()) << b.daemon->log();
  for (auto [host, other] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    auto trusted = host->daemon->vessel({"trust", "add", other->daemon->state_dir() + "/tls/server.crt", "--name",
                                         "peer", "--role", "operator"});
    ASSERT_EQ(trusted.status, 0) << trusted.err;
  }
  auto r = a.daemon->vessel({"run", "--vm", "--name", "vm1", "--kernel", guest("counter"), "--cmdline", "count=1000000",
                             "--memory", "64M", "--stop-timeout", "0"});
  ASSERT_EQ(r.status, 0) << r.err << a.daemon->log();
  ASSERT_TRUE(eventually([&] { return logged_counts(*a.daemon, "vm1").size() >= 3; })) << a.daemon->log();

  migrate_and_count_on(a, b, {}, "tls");
  if (HasFatalFailure()) return;
  EXPECT_NE(b.daemon->log().find("vm1: receiving a live migration inside TLS on tls:127.0.0.1:"), std::string::npos)
      << b.daemon->log();
  EXPECT_EQ(b.daemon->log().find("receiving a live migration on tcp:"), std::string::npos) << "no TCP receiver";

  migrate_and_count_on(b, a, {"--stream", "tcp"}, "tcp");
  if (HasFatalFailure()) return;
  EXPECT_NE(a.daemon->log().find("vm1: receiving a live migration on tcp:127.0.0.1:"), std::string::npos) << a.daemon->log();
  EXPECT_EQ(a.daemon->vessel({"rm", "--force", "vm1"}).status, 0);
}

}  // namespace
}  // namespace vessel::test
