// The control API without KVM: requests parsed into actions, answered by the VMM thread's handler
// (directly, or through the mailbox while Vmm::run() serves it on another thread).
#include "vmm/api/api_server.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "vmm/vmm.h"

namespace vessel::vmm {
namespace {

class ApiControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = Vmm::create(VmConfig{}, VmmOptions{MachineOptions{-1}, {}, {}});
    ASSERT_TRUE(created);
    vmm = std::move(*created);
  }
  http::Response call(const std::string& method, const std::string& path, const std::string& body = {}) {
    http::Request r;
    r.method = method;
    r.path = path;
    r.body = body;
    return api.handle(r);
  }
  json::Json body_of(const http::Response& r) { return json::parse(r.body).value_or(json::Json{}); }

  std::unique_ptr<Vmm> vmm;
  ApiController api{[this](VmmAction a) { return vmm->handle(a); }};
};

TEST_F(ApiControllerTest, InstanceInfoAndVersionBeforeStart) {
  auto r = call("GET", "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body_of(r)["state"], "Not started");
  EXPECT_EQ(body_of(call("GET", "/version"))["firecracker_version"], kVmmVersion);
  EXPECT_EQ(body_of(call("GET", "/metrics"))["state"], "Not started");
}

TEST_F(ApiControllerTest, MachineConfigPutNeedsBothFieldsPatchChangesOne) {
  EXPECT_EQ(call("PUT", "/machine-config", R"({"vcpu_count": 2})").status, 400);
  EXPECT_EQ(call("PUT", "/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 256})").status, 204);
  EXPECT_EQ(call("PATCH", "/machine-config", R"({"vcpu_count": 4})").status, 204);
  auto m = body_of(call("GET", "/machine-config"));
  EXPECT_EQ(m["vcpu_count"], 4);
  EXPECT_EQ(m["mem_size_mib"], 256);
  auto bad = call("PATCH", "/machine-config", R"({"mem_size_mib": 1})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("mem_size_mib"), std::string::npos) << bad.body;
}

TEST_F(ApiControllerTest, DrivesAreReplacedByIdAndLimitedTo16) {
  auto put = [&](const std::string& id, const std::string& path) {
    return call("PUT", "/drives/" + id, json::Json{{"drive_id", id}, {"path_on_host", path}}.dump()).status;
  };
  EXPECT_EQ(put("a", "/one"), 204);
  EXPECT_EQ(put("a", "/two"), 204);
  auto cfg = body_of(call("GET", "/vm/config"));
  ASSERT_EQ(cfg["drives"].size(), 1u);
  EXPECT_EQ(cfg["drives"][0]["path_on_host"], "/two");
  for (int i = 0; i < 15; ++i) EXPECT_EQ(put("d" + std::to_string(i), "/x"), 204);
  auto full = call("PUT", "/drives/last", R"({"drive_id": "last", "path_on_host": "/x"})");
  EXPECT_EQ(full.status, 400);
  EXPECT_NE(full.body.find("at most 16"), std::string::npos);
  auto mismatch = call("PUT", "/drives/a", R"({"drive_id": "b", "path_on_host": "/x"})");
  EXPECT_NE(mismatch.body.find("does not match"), std::string::npos);
}

TEST_F(ApiControllerTest, WrongMethodsUnknownPathsAndStateErrors) {
  EXPECT_EQ(body_of(call("DELETE", "/boot-source"))["fault_message"], "use PUT on /boot-source");
  EXPECT_EQ(call("GET", "/drives/x").status, 405);
  EXPECT_EQ(call("GET", "/drives").status, 404);
  EXPECT_EQ(call("GET", "/nothing").status, 404);
  EXPECT_NE(call("PATCH", "/vm", R"({"state": "Paused"})").body.find("the VM is not started"), std::string::npos);
  EXPECT_EQ(call("PATCH", "/vm", R"({"state": "Sleeping"})").status, 400);
  auto ctrl = call("PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})");
  EXPECT_EQ(ctrl.status, 400);
  EXPECT_NE(ctrl.body.find("SendCtrlAltDel: the VM is not running"), std::string::npos);
  auto start = call("PUT", "/actions", R"({"action_type": "InstanceStart"})");
  EXPECT_EQ(start.status, 400);
  EXPECT_NE(start.body.find("boot source"), std::string::npos) << start.body;
  EXPECT_EQ(call("PUT", "/actions", R"({"action_type": "FlushMetrics"})").status, 204);
  EXPECT_EQ(call("PUT", "/entropy").status, 204);
  EXPECT_TRUE(body_of(call("GET", "/vm/config")).contains("entropy"));
  auto bad_vsock = call("PUT", "/vsock", R"({"guest_cid": 1, "uds_path": "/v.sock"})");
  EXPECT_EQ(bad_vsock.status, 400);
  EXPECT_NE(bad_vsock.body.find("vsock.guest_cid"), std::string::npos) << bad_vsock.body;
  EXPECT_EQ(call("PUT", "/vsock", R"({"vsock_id": "v", "guest_cid": 3, "uds_path": "/v.sock"})").status, 204);
  EXPECT_EQ(body_of(call("GET", "/vm/config"))["vsock"]["uds_path"], "/v.sock");
}

TEST_F(ApiControllerTest, NetworkInterfacesArePutBeforeStartAndPatched) {
  auto put = [&](const std::string& id, const std::string& body) { return call("PUT", "/network-interfaces/" + id, body); };
  EXPECT_EQ(put("eth0", R"({"iface_id": "eth0", "host_dev_name": "vtap0", "guest_mac": "06:00:00:00:00:01"})").status, 204);
  EXPECT_EQ(put("eth0", R"({"iface_id": "eth0", "host_dev_name": "vtap9"})").status, 204) << "replaced by id";
  auto dup = put("eth1", R"({"iface_id": "eth1", "host_dev_name": "vtap9"})");
  EXPECT_EQ(dup.status, 400);
  EXPECT_NE(dup.body.find("host_dev_name"), std::string::npos) << dup.body;
  auto mismatch = put("eth1", R"({"iface_id": "eth2", "host_dev_name": "vtap1"})");
  EXPECT_EQ(mismatch.status, 400);
  auto unknown = put("eth1", R"({"iface_id": "eth1", "host_dev_name": "vtap1", "mtu": 9000})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("mtu"), std::string::npos) << unknown.body;
  auto patch = call("PATCH", "/network-interfaces/eth0",
                    R"({"iface_id": "eth0", "tx_rate_limiter": {"bandwidth": {"size": 1000, "refill_time": 10}}})");
  EXPECT_EQ(patch.status, 204) << patch.body;
  auto cfg = body_of(call("GET", "/vm/config"));
  ASSERT_EQ(cfg["network-interfaces"].size(), 1u);
  EXPECT_EQ(cfg["network-interfaces"][0]["host_dev_name"], "vtap9");
  EXPECT_EQ(cfg["network-interfaces"][0]["tx_rate_limiter"]["bandwidth"]["size"], 1000);
  EXPECT_EQ(call("PATCH", "/network-interfaces/nope", R"({"iface_id": "nope"})").status, 400);
  EXPECT_EQ(call("GET", "/network-interfaces/eth0").status, 405);
  // Drives: PATCH changes the limiter; path_on_host cannot change.
  EXPECT_EQ(call("PUT", "/drives/d", R"({"drive_id": "d", "path_on_host": "/x"})").status, 204);
  EXPECT_EQ(call("PATCH", "/drives/d", R"({"drive_id": "d", "rate_limiter": {"ops": {"size": 5, "refill_time": 10}}})").status, 204);
  EXPECT_EQ(body_of(call("GET", "/vm/config"))["drives"][0]["rate_limiter"]["ops"]["size"], 5);
  auto path = call("PATCH", "/drives/d", R"({"drive_id": "d", "path_on_host": "/y"})");
  EXPECT_EQ(path.status, 400);
  EXPECT_NE(path.body.find("path_on_host"), std::string::npos);
  EXPECT_EQ(call("PATCH", "/drives/zz", R"({"drive_id": "zz"})").status, 400);
  // backing_files (vesseld's named snapshots): a qcow2 drive's allowlist from its next open on.
  EXPECT_EQ(call("PUT", "/drives/q", R"({"drive_id": "q", "path_on_host": "/q", "format": "qcow2"})").status, 204);
  auto listed = call("PATCH", "/drives/q", R"({"drive_id": "q", "backing_files": ["/layers/a", "/base"]})");
  EXPECT_EQ(listed.status, 204) << listed.body;
  auto drives = body_of(call("GET", "/vm/config"))["drives"];
  ASSERT_EQ(drives.size(), 2u);
  EXPECT_EQ(drives[1]["backing_files"], json::Json::array({"/layers/a", "/base"})) << drives.dump();
  EXPECT_EQ(call("PATCH", "/drives/q", R"({"drive_id": "q", "backing_files": ["relative"]})").status, 400);
  EXPECT_EQ(call("PATCH", "/drives/q", R"({"drive_id": "q", "backing_files": "/x"})").status, 400);
  auto raw = call("PATCH", "/drives/d", R"({"drive_id": "d", "backing_files": ["/x"]})");
  EXPECT_EQ(raw.status, 400);
  EXPECT_NE(raw.body.find("qcow2"), std::string::npos) << raw.body;
}

// The real path: the API sends through the mailbox, the VMM thread answers in run(), and a stop
// signal before InstanceStart ends run() without a VM.
TEST(VmmThread, AnswersTheApiThroughItsMailboxUntilAStopSignal) {
  auto created = Vmm::create(VmConfig{}, VmmOptions{MachineOptions{-1}, {}, {}});
  ASSERT_TRUE(created);
  Vmm& vmm = **created;
  std::optional<Vmm::Ended> ended;
  std::thread vmm_thread([&] { ended = vmm.run(); });
  ApiController api([&](VmmAction a) -> VmmReply {
    auto reply = vmm.actions().call(std::move(a));
    if (!reply) return fail(EINVAL, "the VM has ended");
    return std::move(*reply);
  });
  http::Request put{"PUT", "/boot-source", {}, {}, R"({"kernel_image_path": "/k", "boot_args": "x"})"};
  EXPECT_EQ(api.handle(put).status, 204);
  http::Request get{"GET", "/vm/config", {}, {}, ""};
  EXPECT_NE(api.handle(get).body.find("\"/k\""), std::string::npos);
  EXPECT_EQ(vmm.console().call("typed"), 0u) << "no VM yet: the UART takes nothing";
  EXPECT_TRUE(vmm.signals().post(SIGTERM));
  vmm_thread.join();
  ASSERT_TRUE(ended);
  EXPECT_FALSE(ended->started);
  EXPECT_EQ(ended->event.code, SIGTERM);
}

}  // namespace
}  // namespace vessel::vmm
