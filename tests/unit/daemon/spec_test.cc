#include <gtest/gtest.h>

#include "daemon/api/requests.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {
namespace {

Result<InstanceSpec> parse(const std::string& text) { return parse_spec_text(text); }

TEST(Names, AcceptsOrdinaryNames) {
  for (const char* n : {"web", "a", "db-1", "x_y.z", "A9"}) EXPECT_TRUE(validate_name(n)) << n;
}

TEST(Names, RefusesTraversalEmptyLongAndOddCharacters) {
  for (std::string n : {std::string(""), std::string("../etc"), std::string("a/b"), std::string(".hidden"), std::string("-x"),
                        std::string(64, 'a'), std::string("sp ace"), std::string("nul\0x", 5), std::string("ü")}) {
    auto r = validate_name(n);
    EXPECT_FALSE(r) << n;
    if (!r) {
      EXPECT_EQ(r.error().errnum(), EINVAL);
    }
  }
  EXPECT_TRUE(validate_name(std::string(63, 'a')));
}

TEST(Spec, MinimalContainerGetsDefaults) {
  auto s = parse(R"({"name":"web","rootfs":"/srv/root"})");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->type, InstanceType::Container);
  EXPECT_EQ(s->cpus, 1u);
  EXPECT_EQ(s->memory_mib, 256u);
  EXPECT_EQ(s->memory_reservation_mib, 256u);
  EXPECT_DOUBLE_EQ(s->cpu_reservation, 1.0);
  EXPECT_EQ(s->cpu_weight, 100u);
}

TEST(Spec, FullSpecRoundTrips) {
  auto s = parse(R"({"name":"vm1","type":"vm","kernel":"/k","initramfs":"/i","cmdline":"console=ttyS0","cpus":2,
                     "memory_mib":512,"memory_reservation_mib":128,"cpu_reservation":0.5,"cpu_weight":200,
                     "disks":[{"path":"/d.qcow2","read_only":true}],"environment":{"A":"1"},"command":["/init"],
                     "labels":{"tier":"db"},"stop_timeout_s":3})");
  ASSERT_TRUE(s) << s.error().to_string();
  auto again = parse_spec(to_json(*s));
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(to_json(*again), to_json(*s));
  EXPECT_EQ(again->disks.size(), 1u);
  EXPECT_TRUE(again->disks[0].read_only);
  EXPECT_EQ(again->memory_reservation_mib, 128u);
}

TEST(Spec, RefusesBadInputNamingTheField) {
  struct Bad {
    const char* body;
    const char* mentions;
  };
  const Bad cases[] = {
      {R"({"name":"web","rootfs":"/r","colour":"red"})", "colour"},
      {R"({"name":"../x","rootfs":"/r"})", "spec.name"},
      {R"({"name":"web","rootfs":"/r","memory_mib":1099511627776})", "memory_mib"},
      {R"({"name":"web","rootfs":"/r","memory_mib":0})", "memory_mib"},
      {R"({"name":"web","rootfs":"/r","cpus":100000})", "cpus"},
      {R"({"name":"web","rootfs":"/r","cpus":-1})", "cpus"},
      {R"({"name":"web","rootfs":"/r","cpus":"two"})", "cpus"},
      {R"({"name":"web","rootfs":"relative"})", "absolute"},
      {R"({"name":"web"})", "image"},
      {R"({"name":"web","type":"vm"})", "kernel"},
      {R"({"name":"web","type":"toaster","rootfs":"/r"})", "spec.type"},
      {R"({"name":"web","rootfs":"/r","environment":{"A":1}})", "environment.A"},
      {R"({"name":"web","rootfs":"/r","command":"ls"})", "command"},
      {R"({"name":"web","rootfs":"/r","cpu_reservation":5})", "cpu_reservation"},
      {R"({"name":"web","rootfs":"/r","memory_mib":64,"memory_reservation_mib":128})", "memory_reservation_mib"},
      {R"([1,2,3])", "object"},
      {R"({"name":"web","rootfs":"/r")", "spec"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.body);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().errnum(), EINVAL) << c.body;
    EXPECT_NE(r.error().to_string().find(c.mentions), std::string::npos) << c.body << " -> " << r.error().to_string();
  }
}

TEST(Requests, StopExecImage) {
  EXPECT_TRUE(parse_stop_request(""));
  auto s = parse_stop_request(R"({"timeout_s":5})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->timeout_s, 5u);
  auto forced = parse_stop_request(R"({"force":true})");
  ASSERT_TRUE(forced);
  EXPECT_EQ(forced->timeout_s, 0u);
  EXPECT_FALSE(parse_stop_request(R"({"timeout_s":99999})"));
  EXPECT_FALSE(parse_stop_request(R"({"timeout":5})"));
  EXPECT_FALSE(parse_exec_request(R"({"command":[]})"));
  EXPECT_FALSE(parse_exec_request(R"({"command":["ls",1]})"));
  auto e = parse_exec_request(R"({"command":["ls","-l"]})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->command.size(), 2u);
  EXPECT_TRUE(parse_image_request(R"({"name":"bb","archive":"/x.tar"})"));
  EXPECT_FALSE(parse_image_request(R"({"name":"bb","archive":"x.tar"})"));
  EXPECT_FALSE(parse_image_request(R"({"name":"../bb","archive":"/x.tar"})"));
  EXPECT_TRUE(parse_image_request(R"({"name":"linux","type":"vm","kernel":"/k"})"));
  EXPECT_FALSE(parse_image_request(R"({"name":"linux","type":"vm"})"));
}

}  // namespace
}  // namespace vessel::daemon

namespace vessel::daemon {
namespace {

TEST(Spec, LogCapIsOptionalBoundedAndRoundTrips) {
  auto s = parse_spec_text(R"({"name":"a","rootfs":"/r","log":{"max_size":65536,"max_file":2}})");
  ASSERT_TRUE(s) << s.error().to_string();
  ASSERT_TRUE(s->log);
  EXPECT_EQ(s->log->max_size, 65536u);
  EXPECT_EQ(s->log->max_files, 2u);
  auto again = parse_spec(to_json(*s));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->log->max_size, 65536u);
  // Left out: vesseld's default applies at start; a field left out is base's default.
  EXPECT_FALSE(parse_spec_text(R"({"name":"a","rootfs":"/r"})")->log);
  EXPECT_EQ(parse_spec_text(R"({"name":"a","rootfs":"/r","log":{"max_file":1}})")->log->max_size, 10u << 20);
  for (const char* bad : {R"({"name":"a","rootfs":"/r","log":{"max_size":100}})",
                          R"({"name":"a","rootfs":"/r","log":{"max_file":0}})",
                          R"({"name":"a","rootfs":"/r","log":{"max_file":1000}})",
                          R"({"name":"a","rootfs":"/r","log":{"driver":"json-file"}})",
                          R"({"name":"a","rootfs":"/r","log":"10m"})"}) {
    auto r = parse_spec_text(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().to_string().find("log"), std::string::npos) << r.error().to_string();
  }
}

TEST(Spec, AVmWatchdogTakesAnActionAndRoundTrips) {
  auto s = parse(R"({"name":"v","type":"vm","kernel":"/k","watchdog":"poweroff"})");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->watchdog, vmm::WatchdogAction::Poweroff);
  EXPECT_EQ(to_json(*s)["watchdog"], "poweroff");
  EXPECT_FALSE(parse(R"({"name":"v","type":"vm","kernel":"/k"})")->watchdog);
  auto bad = parse(R"({"name":"v","type":"vm","kernel":"/k","watchdog":"bark"})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().to_string().find("spec.watchdog: 'bark'"), std::string::npos) << bad.error().to_string();
  auto container = parse(R"({"name":"c","rootfs":"/r","watchdog":"reset"})");
  ASSERT_FALSE(container);
  EXPECT_NE(container.error().to_string().find("for VMs"), std::string::npos) << container.error().to_string();
}

}  // namespace
}  // namespace vessel::daemon
