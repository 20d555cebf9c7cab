// Named snapshots through the API and the manager over a fake backend (no KVM): the routes and
// their 4xx answers, a stopped VM's disks-only snapshot, restore and rm on real qcow2 layers, the
// refusal for containers, and a failed create on a running VM that changes nothing.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "base/process.h"
#include "daemon/api/router.h"
#include "daemon/images/disk_layers.h"
#include "daemon/images/image_store.h"
#include "sleeping_backend.h"
#include "api_call.h"

namespace vessel::daemon {
namespace {

namespace fs = std::filesystem;

// Starts a sleeping process; set_disk_backing is not overridden: a live snapshot fails at its
// first step, as a vessel-vmm that refuses the PATCH would.
struct SnapshotsOverFake : ::testing::Test {
  SnapshotsOverFake() {
    char t[] = "/tmp/vessel-snapshots-test.XXXXXX";
    dir = ::mkdtemp(t);
    fs::create_directories(dir + "/rootfs");
    (void)write_file(dir + "/kernel", "not a kernel: the fake boots nothing");
    store = std::move(*Store::open(dir + "/db"));
    images = std::make_unique<ImageStore>(*store, dir + "/images");
    ManagerConfig config{dir, "vessel-unit", Capacity{2, 4096}, Overcommit{}};
    manager = std::make_unique<Manager>(config, *store, events, *images, fake, fake);
    manager->reconcile();
    api = std::make_unique<Api>(*manager, *images, events, "");
  }
  ~SnapshotsOverFake() override {
    api.reset();
    for (const auto& name : {"c", "v"}) (void)manager->remove(name, true);
    manager.reset();
    fs::remove_all(dir);
  }
  http::Response call(const std::string& method, const std::string& path, const std::string& body = "",
                      std::map<std::string, std::string> query = {}) {
    return api_call(*api, method, path, body, std::move(query));
  }
  json::Json body(const http::Response& r) { return body_of(r); }
  std::string vm_spec() {
    return R"({"name":"v","type":"vm","kernel":")" + dir + R"(/kernel","memory_mib":64,"disks":[{"size_mib":1}]})";
  }
  std::string top() { return dir + "/instances/v/disks/disk-0.qcow2"; }

  std::string dir;
  std::unique_ptr<Store> store;
  EventBus events;
  std::unique_ptr<ImageStore> images;
  SleepingBackend fake;
  std::unique_ptr<Manager> manager;
  std::unique_ptr<Api> api;
};

TEST_F(SnapshotsOverFake, AStoppedVmGetsDisksOnlySnapshotsRestoredAndRemoved) {
  auto created = call("POST", "/v1/instances", vm_spec());
  ASSERT_EQ(created.status, 201) << created.body;
  auto s1 = call("POST", "/v1/instances/v/snapshots", R"({"name": "s1"})");
  ASSERT_EQ(s1.status, 201) << s1.body;
  EXPECT_EQ(body(s1)["name"], "s1");
  EXPECT_EQ(body(s1)["memory"], false) << "a VM without a process has no memory to keep";
  std::string layer = body(s1)["disks"][0]["layer"];
  EXPECT_EQ(*backing_chain(top()), std::vector<std::string>{layer});
  auto snap0 = call("POST", "/v1/instances/v/snapshots");
  ASSERT_EQ(snap0.status, 201) << snap0.body;
  EXPECT_EQ(body(snap0)["name"], "snap0");
  auto list = call("GET", "/v1/instances/v/snapshots");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(body(list).size(), 2u) << list.body;
  EXPECT_EQ(call("GET", "/v1/instances/v/snapshots/s1").status, 200);
  EXPECT_EQ(call("GET", "/v1/instances/v/snapshots/nosuch").status, 404);
  // Bad requests: 4xx, nothing changes.
  EXPECT_EQ(call("POST", "/v1/instances/v/snapshots", R"({"name": "s1"})").status, 409);
  EXPECT_EQ(call("POST", "/v1/instances/v/snapshots", R"({"name": ".."})").status, 400);
  EXPECT_EQ(call("POST", "/v1/instances/v/snapshots", R"({"name": "a/b"})").status, 400);
  EXPECT_EQ(call("POST", "/v1/instances/v/snapshots", R"({"nme": "x"})").status, 400);
  EXPECT_EQ(call("POST", "/v1/instances/v/snapshots/../restore").status, 400);
  EXPECT_EQ(call("POST", "/v1/instances/v/snapshots/nosuch/restore").status, 404);
  EXPECT_EQ(call("DELETE", "/v1/instances/v/snapshots/nosuch").status, 404);
  EXPECT_EQ(call("PUT", "/v1/instances/v/snapshots").status, 405);
  EXPECT_EQ(call("POST", "/v1/instances/nosuch/snapshots").status, 404);
  EXPECT_EQ(body(call("GET", "/v1/instances/v/snapshots")).size(), 2u);
  // Restore s1: a new top over s1's layer; the VM stays stopped (no memory).
  auto restored = call("POST", "/v1/instances/v/snapshots/s1/restore");
  ASSERT_EQ(restored.status, 200) << restored.body;
  EXPECT_EQ(body(restored)["state"], "created") << "as it was: a disks-only snapshot starts nothing";
  EXPECT_EQ(*backing_chain(top()), std::vector<std::string>{layer});
  // rm s1 keeps its layer (the disk stands on it); rm snap0 removes snap0's (nothing needs it).
  std::string layer0 = body(snap0)["disks"][0]["layer"];
  EXPECT_EQ(call("DELETE", "/v1/instances/v/snapshots/s1").status, 204);
  EXPECT_TRUE(fs::exists(layer));
  EXPECT_TRUE(fs::exists(layer0));
  EXPECT_EQ(call("DELETE", "/v1/instances/v/snapshots/snap0").status, 204);
  EXPECT_FALSE(fs::exists(layer0));
  EXPECT_TRUE(fs::exists(layer));
  EXPECT_EQ(body(call("GET", "/v1/instances/v/snapshots")).size(), 0u);
  // Deleting the instance removes what is left.
  EXPECT_EQ(call("DELETE", "/v1/instances/v").status, 204);
  EXPECT_FALSE(fs::exists(dir + "/instances/v"));
}

TEST_F(SnapshotsOverFake, AContainerIsRefusedWithAHint) {
  auto c = call("POST", "/v1/instances", R"({"name":"c","rootfs":")" + dir + R"(/rootfs"})");
  ASSERT_EQ(c.status, 201) << c.body;
  auto r = call("POST", "/v1/instances/c/snapshots");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("container"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("checkpoint"), std::string::npos) << r.body;
  EXPECT_EQ(call("GET", "/v1/instances/c/snapshots").status, 400);
}

TEST_F(SnapshotsOverFake, AFailedCreateLeavesTheRunningVmAndItsDisksAsTheyWere) {
  ASSERT_EQ(call("POST", "/v1/instances", vm_spec(), {{"start", "1"}}).status, 201);
  int pid = body(call("GET", "/v1/instances/v"))["pid"];
  auto r = call("POST", "/v1/instances/v/snapshots", R"({"name": "s1"})");
  EXPECT_GE(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("snapshot s1 of v"), std::string::npos) << r.body;
  auto info = body(call("GET", "/v1/instances/v"));
  EXPECT_EQ(info["state"], "running");
  EXPECT_EQ(info["pid"], pid);
  EXPECT_TRUE(backing_chain(top())->empty()) << "the disk was not frozen";
  EXPECT_EQ(body(call("GET", "/v1/instances/v/snapshots")).size(), 0u);
  EXPECT_FALSE(fs::exists(dir + "/instances/v/snapshots/s1"));
}

}  // namespace
}  // namespace vessel::daemon
