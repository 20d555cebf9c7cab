#include "vmm/api/vm_config.h"

#include <gtest/gtest.h>

namespace vessel::vmm {
namespace {

TEST(VmConfig, FirecrackerExampleParses) {
  auto c = parse_vm_config(R"({
    "boot-source": {"kernel_image_path": "/k", "boot_args": "console=ttyS0", "initrd_path": "/i"},
    "machine-config": {"vcpu_count": 4, "mem_size_mib": 1024, "smt": false, "track_dirty_pages": false},
    "drives": [{"drive_id": "rootfs", "path_on_host": "/r.ext4", "is_root_device": true, "is_read_only": true}],
    "network-interfaces": [],
    "entropy": {}
  })");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->boot_source->kernel_image_path, "/k");
  EXPECT_EQ(c->boot_source->initrd_path.value(), "/i");
  EXPECT_EQ(c->machine.vcpu_count, 4u);
  EXPECT_EQ(c->machine.mem_size_mib, 1024u);
  ASSERT_EQ(c->drives.size(), 1u);
  EXPECT_TRUE(c->drives[0].is_read_only);
  EXPECT_TRUE(c->entropy);
  // Round trip through GET /vm/config's shape.
  auto again = parse_vm_config(c->to_json().dump());
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->to_json(), c->to_json());
}

TEST(VmConfig, DriveFormatIsOptionalAndRoundTrips) {
  auto c = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "drives": [
    {"drive_id": "a", "path_on_host": "/a.qcow2", "format": "qcow2"},
    {"drive_id": "b", "path_on_host": "/b.raw", "format": "raw"},
    {"drive_id": "c", "path_on_host": "/c.img"}]})");
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_EQ(c->drives.size(), 3u);
  EXPECT_EQ(c->drives[0].format, DriveFormat::Qcow2);
  EXPECT_EQ(c->drives[1].format, DriveFormat::Raw);
  EXPECT_FALSE(c->drives[2].format.has_value());  // raw: never probed
  auto j = c->to_json();
  EXPECT_EQ(j["drives"][0]["format"], "qcow2");
  EXPECT_FALSE(j["drives"][2].contains("format"));
  auto again = parse_vm_config(j.dump());
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->to_json(), j);
  auto bad = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "drives": [
    {"drive_id": "a", "path_on_host": "/a", "format": "vmdk"}]})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().to_string().find("drives[0].format: 'vmdk' is not"), std::string::npos) << bad.error().to_string();
}

// Firecracker's drive fields: each is done (cache_type, io_engine Sync, partuuid of the root
// device, rate_limiter) or refused naming the field (io_engine Async); never accepted and ignored.
TEST(VmConfig, FirecrackerDriveFieldsAreDoneOrRefused) {
  auto c = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "drives": [
    {"drive_id": "root", "path_on_host": "/r", "is_root_device": true, "partuuid": "0eaa91a0-01",
     "cache_type": "Writeback", "io_engine": "Sync", "rate_limiter": null},
    {"drive_id": "scratch", "path_on_host": "/s", "cache_type": "Unsafe",
     "rate_limiter": {"bandwidth": {"size": 1000, "one_time_burst": 50, "refill_time": 100}, "ops": {"size": 5, "refill_time": 10}}}]})");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->drives[0].partuuid.value(), "0eaa91a0-01");
  EXPECT_EQ(c->drives[0].cache_type, CacheType::Writeback);
  EXPECT_EQ(c->drives[1].cache_type, CacheType::Unsafe);
  auto again = parse_vm_config(c->to_json().dump());
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->to_json(), c->to_json());
  EXPECT_EQ(c->to_json()["drives"][1]["cache_type"], "Unsafe");
  EXPECT_FALSE(c->drives[0].rate_limiter);
  ASSERT_TRUE(c->drives[1].rate_limiter && c->drives[1].rate_limiter->bandwidth && c->drives[1].rate_limiter->ops);
  EXPECT_EQ(c->drives[1].rate_limiter->bandwidth->one_time_burst, 50u);
  EXPECT_EQ(c->drives[1].rate_limiter->ops->refill_time_ms, 10u);

  struct Case {
    const char* drive;
    const char* needle;
  } cases[] = {
      {R"("rate_limiter": {"bandwidth": {"size": 1000}})", "drives[0].rate_limiter.bandwidth.refill_time"},
      {R"("rate_limiter": {"bytes": {}})", "drives[0].rate_limiter"},
      {R"("io_engine": "Async")", "drives[0].io_engine: \"Async\" (io_uring) is not supported yet"},
      {R"("io_engine": "Fast")", "drives[0].io_engine: 'Fast'"},
      {R"("cache_type": "None")", "drives[0].cache_type: 'None'"},
      {R"("partuuid": "0eaa91a0-01")", "drives[0].partuuid: only the root device's"},
      {R"("is_root_device": true, "partuuid": "x y")", "drives[0].partuuid: 'x y' is not a partition UUID"},
      {R"("backing_files": ["/b"])", "drives[0].backing_files: only qcow2 drives"},
      {R"("format": "qcow2", "backing_files": ["b"])", "drives[0].backing_files[0]: expected an absolute path"},
      {R"("format": "qcow2", "backing_files": "/b")", "drives[0].backing_files: expected an array"},
  };
  for (const auto& k : cases) {
    std::string doc = std::string(R"({"boot-source": {"kernel_image_path": "/k"}, "drives": [{"drive_id": "d", "path_on_host": "/d", )") +
                      k.drive + "}]}";
    auto r = parse_vm_config(doc);
    ASSERT_FALSE(r) << doc;
    EXPECT_NE(r.error().to_string().find(k.needle), std::string::npos) << r.error().to_string();
  }
  auto listed = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "drives": [
    {"drive_id": "d", "path_on_host": "/o.qcow2", "format": "qcow2", "backing_files": ["/b.qcow2", "/c.raw"]}]})");
  ASSERT_TRUE(listed) << listed.error().to_string();
  EXPECT_EQ(listed->drives[0].backing_files, (std::vector<std::string>{"/b.qcow2", "/c.raw"}));
  EXPECT_EQ(listed->to_json()["drives"][0]["backing_files"][1], "/c.raw");
}

TEST(VmConfig, OnRebootExtension) {
  auto c = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "vessel": {"on_reboot": "restart"}})");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->on_reboot, OnReboot::Restart);
  EXPECT_EQ(c->to_json()["vessel"]["on_reboot"], "restart");
  auto plain = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->on_reboot, OnReboot::Exit);
  EXPECT_FALSE(plain->to_json().contains("vessel"));
  auto bad = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "vessel": {"on_reboot": "halt"}})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().to_string().find("vessel.on_reboot: 'halt'"), std::string::npos);
  auto nice = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "vessel": {"io_nice": -10}})");
  ASSERT_TRUE(nice) << nice.error().to_string();
  EXPECT_EQ(nice->io_nice, -10);
  EXPECT_EQ(nice->to_json()["vessel"]["io_nice"], -10);
  EXPECT_FALSE(parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "vessel": {"io_nice": -21}})"));
  EXPECT_FALSE(parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "vessel": {"io_nice": "high"}})"));
  auto unknown = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "vessel": {"reboot": "restart"}})");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().to_string().find("reboot"), std::string::npos);
}

TEST(VmConfig, ErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* needle;
  } cases[] = {
      {R"({"boot-source": {"kernel_image_path": 5}})", "boot-source.kernel_image_path"},
      {R"({"boot-source": {"kernel_image_path": ""}})", "must not be empty"},
      {R"({"boot-source": {"kernel_image_path": "/k"}, "machine-config": {"mem_size_mib": 8}})", "mem_size_mib: 8 is out of range"},
      {R"({"boot-source": {"kernel_image_path": "/k"}, "machine-config": {"smt": true}})", "smt"},
      {R"({"boot-source": {"kernel_image_path": "/k"}, "drives": {}})", "drives: expected an array"},
      {R"({"boot-source": {"kernel_image_path": "/k"}, "drives": [{"drive_id": "a/b", "path_on_host": "/x"}]})", "drive_id"},
      {R"({"boot-source": {"kernel_image_path": "/k"}, "drives": [{"drive_id": "a"}]})", "drives[0].path_on_host"},
      {R"({"boot-source": {"kernel_image_path": "/k"}, "network-interfaces": [{"iface_id": "eth0"}]})", "network-interfaces[0].host_dev_name"},
      {R"({"boot-source": {"kernel_image_path": "/k"}, "typo": 1})", "typo"},
      {R"([1,2])", "expected an object"},
  };
  for (const auto& c : cases) {
    auto r = parse_vm_config(c.json);
    ASSERT_FALSE(r) << c.json;
    EXPECT_NE(r.error().to_string().find(c.needle), std::string::npos) << r.error().to_string();
  }
}

TEST(VmConfig, DeepNestingIsRefusedNotRecursedInto) {
  std::string deep(100000, '[');
  EXPECT_FALSE(parse_vm_config(deep));
}

TEST(VmConfig, PatchKeepsUnsetFields) {
  MachineConfig base{4, 512, false};
  auto m = parse_machine_config(json::Json{{"mem_size_mib", 256u}}, base);
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->vcpu_count, 4u);
  EXPECT_EQ(m->mem_size_mib, 256u);
}

TEST(VmConfig, StartNeedsABootSourceAndOneRoot) {
  VmConfig c;
  EXPECT_FALSE(validate_for_start(c));
  c.boot_source = BootSource{"/k", {}, ""};
  EXPECT_TRUE(validate_for_start(c));
  c.drives = {{"a", "/a", true, false}, {"b", "/b", true, false}};
  EXPECT_FALSE(validate_for_start(c));
}

TEST(VmConfig, VsockTakesFirecrackersShapeAndNamesTheBadField) {
  auto c = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"},
    "vsock": {"vsock_id": "vsock0", "guest_cid": 3, "uds_path": "/run/v.sock"}})");
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_TRUE(c->vsock);
  EXPECT_EQ(c->vsock->guest_cid, 3u);
  EXPECT_EQ(c->vsock->uds_path, "/run/v.sock");
  auto again = parse_vm_config(c->to_json().dump());
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->to_json(), c->to_json());
  auto error_of = [](const char* vsock) {
    auto r = parse_vm_config(std::string(R"({"boot-source": {"kernel_image_path": "/k"}, "vsock": )") + vsock + "}");
    return r ? std::string() : r.error().to_string();
  };
  EXPECT_NE(error_of(R"({"guest_cid": 2, "uds_path": "/v"})").find("vsock.guest_cid"), std::string::npos);
  EXPECT_NE(error_of(R"({"guest_cid": 4294967296, "uds_path": "/v"})").find("vsock.guest_cid"), std::string::npos);
  EXPECT_NE(error_of(R"({"guest_cid": -5, "uds_path": "/v"})").find("vsock.guest_cid"), std::string::npos);
  EXPECT_NE(error_of(R"({"uds_path": "/v"})").find("vsock.guest_cid"), std::string::npos);
  EXPECT_NE(error_of(R"({"guest_cid": 3})").find("uds_path"), std::string::npos);
  EXPECT_NE(error_of(R"({"guest_cid": 3, "uds_path": ""})").find("vsock.uds_path"), std::string::npos);
  std::string long_path = R"({"guest_cid": 3, "uds_path": "/)" + std::string(100, 'a') + "\"}";
  EXPECT_NE(error_of(long_path.c_str()).find("vsock.uds_path"), std::string::npos);
  EXPECT_NE(error_of(R"({"guest_cid": 3, "uds_path": "/v", "cid": 1})").find("cid"), std::string::npos);
  EXPECT_NE(error_of(R"({"guest_cid": 3, "uds_path": "/v", "vsock_id": 7})").find("vsock.vsock_id"), std::string::npos);
}

}  // namespace
}  // namespace vessel::vmm

namespace vessel::vmm {
namespace {

Result<VmConfig> with_nets(const std::string& nets) {
  return parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "network-interfaces": )" + nets + "}");
}

TEST(VmConfig, NetworkInterfacesInFirecrackersShapeRoundTrip) {
  auto c = with_nets(R"([{"iface_id": "eth0", "host_dev_name": "vtap0", "guest_mac": "06:00:AC:10:00:02",
                          "rx_rate_limiter": {"bandwidth": {"size": 1000, "refill_time": 100}},
                          "tx_rate_limiter": {"ops": {"size": 10, "one_time_burst": 5, "refill_time": 1000}}},
                         {"iface_id": "eth1", "host_dev_name": "vtap1"}])");
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_EQ(c->network_interfaces.size(), 2u);
  const auto& n = c->network_interfaces[0];
  EXPECT_EQ(n.host_dev_name, "vtap0");
  EXPECT_EQ(n.guest_mac, "06:00:AC:10:00:02");
  EXPECT_EQ(n.rx_rate_limiter->bandwidth->size, 1000u);
  EXPECT_EQ(n.tx_rate_limiter->ops->one_time_burst, 5u);
  EXPECT_FALSE(c->network_interfaces[1].guest_mac);
  auto again = parse_vm_config(c->to_json().dump());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->to_json(), c->to_json());
  EXPECT_TRUE(with_nets("[]"));
  EXPECT_EQ(*parse_mac("06:00:ac:10:00:02", "m"), (std::array<uint8_t, 6>{6, 0, 0xac, 0x10, 0, 2}));
}

TEST(VmConfig, BadNetworkInterfacesNameTheField) {
  struct Case {
    const char* nets;
    const char* needle;
  } cases[] = {
      {R"({})", "network-interfaces: expected an array"},
      {R"([{"iface_id": "eth0", "host_dev_name": "t0", "allow_mmds_requests": true}])", "allow_mmds_requests"},
      {R"([{"iface_id": "eth 0", "host_dev_name": "t0"}])", "network-interfaces[0].iface_id"},
      {R"([{"iface_id": "eth0", "host_dev_name": "a-name-longer-than-15"}])", "network-interfaces[0].host_dev_name"},
      {R"([{"iface_id": "eth0", "host_dev_name": "../t"}])", "host_dev_name"},
      {R"([{"iface_id": "eth0", "host_dev_name": "t0", "guest_mac": "06:00:ac:10:00"}])", "network-interfaces[0].guest_mac"},
      {R"([{"iface_id": "eth0", "host_dev_name": "t0", "guest_mac": "06-00-ac-10-00-02"}])", "guest_mac"},
      {R"([{"iface_id": "eth0", "host_dev_name": "t0", "guest_mac": "01:00:5e:00:00:01"}])", "multicast"},
      {R"([{"iface_id": "eth0", "host_dev_name": "t0", "guest_mac": "00:00:00:00:00:00"}])", "all zeros"},
      {R"([{"iface_id": "eth0", "host_dev_name": "t0", "guest_mac": "0g:00:ac:10:00:02"}])", "hex"},
      {R"([{"iface_id": "eth0", "host_dev_name": "t0", "rx_rate_limiter": {"bandwith": {}}}])", "rx_rate_limiter"},
      {R"([{"iface_id": "eth0", "host_dev_name": "t0"}, {"iface_id": "eth0", "host_dev_name": "t1"}])", "duplicate iface_id"},
      {R"([{"iface_id": "eth0", "host_dev_name": "t0"}, {"iface_id": "eth1", "host_dev_name": "t0"}])",
       "network-interfaces[1].host_dev_name: 't0' is already used"},
      {R"([{"iface_id": "a", "host_dev_name": "t0", "guest_mac": "06:00:00:00:00:01"},
           {"iface_id": "b", "host_dev_name": "t1", "guest_mac": "06:00:00:00:00:01"}])", "network-interfaces[1].guest_mac"},
  };
  for (const auto& c : cases) {
    auto r = with_nets(c.nets);
    ASSERT_FALSE(r) << c.nets;
    EXPECT_NE(r.error().to_string().find(c.needle), std::string::npos) << r.error().to_string();
  }
}

// vessel extension "vhost": auto (absent), on, off; round-trips; "on" with a limiter is refused.
TEST(VmConfig, VhostExtensionParsesRoundTripsAndRefusesLimiters) {
  auto c = with_nets(R"([{"iface_id": "a", "host_dev_name": "t0"}, {"iface_id": "b", "host_dev_name": "t1", "vhost": "on"},
                         {"iface_id": "c", "host_dev_name": "t2", "vhost": "off"},
                         {"iface_id": "d", "host_dev_name": "t3", "vhost": "auto",
                          "tx_rate_limiter": {"ops": {"size": 1, "refill_time": 10}}}])");
  ASSERT_TRUE(c) << c.error().to_string();
  using V = NetworkInterfaceConfig::Vhost;
  EXPECT_EQ(c->network_interfaces[0].vhost, V::Auto);
  EXPECT_EQ(c->network_interfaces[1].vhost, V::On);
  EXPECT_EQ(c->network_interfaces[2].vhost, V::Off);
  EXPECT_EQ(c->network_interfaces[3].vhost, V::Auto);
  EXPECT_FALSE(to_json(c->network_interfaces[0]).contains("vhost"));
  EXPECT_EQ(to_json(c->network_interfaces[1])["vhost"], "on");
  auto again = parse_vm_config(c->to_json().dump());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->to_json(), c->to_json());
  auto bad = with_nets(R"([{"iface_id": "a", "host_dev_name": "t0", "vhost": "yes"}])");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().to_string().find("network-interfaces[0].vhost"), std::string::npos) << bad.error().to_string();
  auto limited = with_nets(R"([{"iface_id": "a", "host_dev_name": "t0", "vhost": "on",
                                "rx_rate_limiter": {"ops": {"size": 1, "refill_time": 10}}}])");
  ASSERT_FALSE(limited);
  EXPECT_NE(limited.error().to_string().find("cannot apply"), std::string::npos) << limited.error().to_string();
}

TEST(VmConfig, RateLimiterPatchReplacesOnlyTheBucketsItNames) {
  RateLimiterConfig old{TokenBucketConfig{100, 0, 10}, TokenBucketConfig{5, 0, 10}};
  auto p = parse_rate_limiter_patch(json::parse(R"({"ops": {"size": 7, "refill_time": 20}})").value(), "r");
  ASSERT_TRUE(p);
  auto next = apply_patch(*p, old);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->bandwidth, old.bandwidth);
  EXPECT_EQ(next->ops->size, 7u);
  auto off = parse_rate_limiter_patch(json::parse(R"({"bandwidth": {"size": 0, "refill_time": 0}})").value(), "r");
  next = apply_patch(*off, next);
  ASSERT_TRUE(next);
  EXPECT_FALSE(next->bandwidth);
  auto ops_off = parse_rate_limiter_patch(json::parse(R"({"ops": {"size": 0, "refill_time": 0}})").value(), "r");
  EXPECT_FALSE(apply_patch(*ops_off, next)) << "no bucket left: no limiter";
  EXPECT_FALSE(parse_rate_limiter_patch(json::parse(R"({"opz": {}})").value(), "r"));
}

TEST(VmConfig, WatchdogSectionParsesAndRoundTrips) {
  auto c = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "watchdog": {"model": "ib700", "action": "poweroff"}})");
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_TRUE(c->watchdog);
  EXPECT_EQ(c->watchdog->action, WatchdogAction::Poweroff);
  auto again = parse_vm_config(c->to_json().dump());
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->to_json(), c->to_json());
  // The model and the action are optional: ib700, reset.
  auto defaults = parse_watchdog(json::Json::object());
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->action, WatchdogAction::Reset);
  EXPECT_FALSE(parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}})")->watchdog);
}

TEST(VmConfig, BadWatchdogsAreRefusedWithTheFieldNamed) {
  auto expect_error = [](const char* body, const char* needle) {
    auto w = json::parse(body);
    ASSERT_TRUE(w);
    auto r = parse_watchdog(*w);
    ASSERT_FALSE(r) << body;
    EXPECT_NE(r.error().to_string().find(needle), std::string::npos) << r.error().to_string();
  };
  expect_error(R"({"action": "explode"})", "watchdog.action: 'explode'");
  expect_error(R"({"model": "i6300esb"})", "watchdog.model: 'i6300esb' is not supported");
  expect_error(R"({"timeout": 5})", "timeout");
  expect_error(R"({"action": 1})", "watchdog.action");
  expect_error(R"([])", "expected an object");
}

}  // namespace
}  // namespace vessel::vmm
