// A VM on a host where VMs cannot run, for real: vesseld runs in a mount namespace of its own in
// which /dev/kvm is /dev/null (where /dev/kvm is missing already, nothing needs hiding). A run
// must fail at once with 409 and the host check's reason, and leave nothing behind (no instance
// row, which is also what admission control counts). No /dev/kvm is needed (label integration).
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <thread>

#include "http/http.h"
#include "daemon_fixture.h"

namespace vessel::test {
namespace {

// Starts `daemon` from a thread that first enters a new mount namespace (mount namespaces belong to
// the thread that unshares; vesseld, forked from it, inherits it) and hides /dev/kvm there.
std::string start_without_kvm(Daemon& daemon) {
  std::string why;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNS) != 0) {
      why = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
      return;
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      why = std::string("make / private: ") + std::strerror(errno);
      return;
    }
    if (::access("/dev/kvm", F_OK) == 0 &&
        ::mount("/dev/null", "/dev/kvm", nullptr, MS_BIND, nullptr) != 0) {
      why = std::string("bind /dev/null over /dev/kvm: ") + std::strerror(errno);
      return;
    }
    if (!daemon.start()) why = "vesseld did not start: " + daemon.log();
  });
  t.join();
  return why;
}

http::ClientResponse post(const Daemon& daemon, const std::string& path, const json::Json& body) {
  http::ClientOptions options;
  options.unix_socket = daemon.socket();
  options.timeout = std::chrono::seconds(30);
  auto r = http::request(options, "POST", "http://localhost" + path, body.dump());
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().to_string());
  return r ? *r : http::ClientResponse{};
}

class VmHostGate : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(kernel) << "not a kernel: vesseld must refuse before anything reads it\n";
    std::string why = start_without_kvm(daemon);
    ASSERT_TRUE(why.empty()) << why;
  }
  size_t instances() { return daemon.vessel_json({"ls", "-a", "--json"}).size(); }

  TempDir tmp;
  std::string kernel = tmp.path + "/vmlinuz";
  Daemon daemon{tmp.path};
};

TEST_F(VmHostGate, RunVmIsRefusedWith409AndTheHostChecksReason) {
  json::Json spec = {{"name", "novm"}, {"type", "vm"}, {"kernel", kernel}, {"memory_mib", 512}};
  auto r = post(daemon, "/v1/instances?start=1", spec);
  EXPECT_EQ(r.status, 409) << r.body;
  auto j = json::parse(r.body).value_or(json::Json::object());
  std::string error = j.value("error", "");
  EXPECT_EQ(error.rfind("this host cannot run VMs: /dev/kvm: ", 0), 0u) << r.body;
  EXPECT_NE(error.find(::access("/dev/kvm", F_OK) == 0 ? "not the KVM device" : "missing"),
            std::string::npos)
      << r.body;
  EXPECT_NE(j.value("hint", "").find("vessel host check"), std::string::npos) << r.body;
  EXPECT_EQ(instances(), 0u) << daemon.vessel({"ls"}).out;

  // The CLI says the same and leaves nothing behind either, each time.
  for (int i = 0; i < 2; ++i) {
    auto cli =
        daemon.vessel({"run", "--vm", "--name", "novm", "--kernel", kernel, "--memory", "512M"});
    EXPECT_EQ(cli.status, 1) << cli.out << cli.err;
    EXPECT_NE(cli.err.find("this host cannot run VMs"), std::string::npos) << cli.err;
    EXPECT_EQ(instances(), 0u);
  }
  EXPECT_EQ(daemon.log().find("vessel-vmm API"), std::string::npos) << daemon.log();
}

TEST_F(VmHostGate, ACreatedVmIsKeptButItsStartIsRefused) {
  auto created =
      daemon.vessel({"create", "--vm", "--name", "later", "--kernel", kernel, "--memory", "64M"});
  ASSERT_EQ(created.status, 0) << created.err;
  auto r = post(daemon, "/v1/instances/later/start", json::Json::object());
  EXPECT_EQ(r.status, 409) << r.body;
  auto j = json::parse(r.body).value_or(json::Json::object());
  EXPECT_EQ(j.value("error", "").rfind("start later: this host cannot run VMs: ", 0), 0u) << r.body;
  EXPECT_EQ(j.value("state", ""), "created") << r.body;
  EXPECT_EQ(instances(), 1u);
  EXPECT_EQ(daemon.vessel({"rm", "later"}).status, 0);
  EXPECT_EQ(instances(), 0u);
}

}  // namespace
}  // namespace vessel::test
