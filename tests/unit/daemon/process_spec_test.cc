#include <gtest/gtest.h>

#include "daemon/instances/container_user.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {
namespace {

Result<InstanceSpec> container_with(const std::string& fields) {
  return parse_spec_text(R"({"name":"web","rootfs":"/r")" + fields + "}");
}

TEST(ProcessSpec, FieldsRoundTrip) {
  auto s = container_with(R"(,"entrypoint":["/bin/sh","-c"],"workdir":"/srv","user":"app:staff","hostname":"box-1.lan","auto_remove":true,"tty":{"rows":24,"cols":80})");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->process.entrypoint, (std::vector<std::string>{"/bin/sh", "-c"}));
  EXPECT_EQ(s->process.workdir, "/srv");
  EXPECT_EQ(s->process.user, "app:staff");
  EXPECT_EQ(s->process.hostname, "box-1.lan");
  EXPECT_TRUE(s->auto_remove);
  ASSERT_TRUE(s->process.tty);
  EXPECT_EQ(s->process.tty->rows, 24);
  EXPECT_EQ(s->process.tty->cols, 80);
  auto again = parse_spec(to_json(*s));
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->process.entrypoint, s->process.entrypoint);
  EXPECT_EQ(again->process.user, "app:staff");
  EXPECT_TRUE(again->auto_remove);
  ASSERT_TRUE(again->process.tty);
  EXPECT_EQ(again->process.tty->cols, 80);
  // An empty entrypoint ("--entrypoint ''") is kept as such: no entrypoint, not the image's.
  auto none = container_with(R"(,"entrypoint":[])");
  ASSERT_TRUE(none);
  ASSERT_TRUE(none->process.entrypoint);
  EXPECT_TRUE(parse_spec(to_json(*none))->process.entrypoint->empty());
}

TEST(ProcessSpec, BadFieldsAreRefusedNamingThem) {
  for (auto [fields, named] : std::vector<std::pair<std::string, std::string>>{
           {R"(,"workdir":"relative")", "spec.workdir"},
           {R"(,"user":"a:b:c")", "spec.user"},
           {R"(,"user":"-rf")", "spec.user"},
           {R"(,"user":"")", "spec.user"},
           {R"(,"hostname":"-bad")", "spec.hostname"},
           {R"(,"hostname":"a..b")", "spec.hostname"},
           {R"(,"hostname":")" + std::string(65, 'a') + "\"", "spec.hostname"},
           {R"(,"entrypoint":"sh")", "spec.entrypoint"},
           {R"(,"entrypoint":[1])", "spec.entrypoint[0]"},
           {R"(,"tty":{"rows":70000})", "spec.tty.rows"},
           {R"(,"tty":true)", "spec.tty"},
           {R"(,"tty":{"width":80})", "spec.tty"},
           {R"(,"auto_remove":true,"restart":"always")", "auto_remove"}}) {
    auto s = container_with(fields);
    ASSERT_FALSE(s) << fields;
    EXPECT_NE(s.error().to_string().find(named), std::string::npos) << s.error().to_string();
  }
  auto vm = parse_spec_text(R"({"name":"v","type":"vm","kernel":"/k","workdir":"/srv"})");
  ASSERT_FALSE(vm);
  EXPECT_NE(vm.error().to_string().find("for containers"), std::string::npos);
}

TEST(ProcessSpec, ArgsFollowDockersRules) {
  std::vector<std::string> ep{"/entry"}, cmd{"default"}, none;
  ProcessSpec p;
  EXPECT_EQ(process_args(p, none, ep, cmd), (std::vector<std::string>{"/entry", "default"}));
  EXPECT_EQ(process_args(p, {"mine"}, ep, cmd), (std::vector<std::string>{"/entry", "mine"}));  // CMD replaced
  p.entrypoint = std::vector<std::string>{"/bin/sh"};
  EXPECT_EQ(process_args(p, none, ep, cmd), (std::vector<std::string>{"/bin/sh"}));  // the image's CMD goes too
  EXPECT_EQ(process_args(p, {"-c", "x"}, ep, cmd), (std::vector<std::string>{"/bin/sh", "-c", "x"}));
  p.entrypoint = std::vector<std::string>{};
  EXPECT_EQ(process_args(p, {"/bin/true"}, ep, cmd), (std::vector<std::string>{"/bin/true"}));
}

TEST(CpuQuota, AContainersFractionOfItsCpus) {
  auto s = container_with(R"(,"cpus":2,"cpu_quota":1.5)");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->cpu_quota, 1.5);
  EXPECT_EQ(s->cpu_reservation, 1.5);  // admission counts what it may use
  EXPECT_EQ(parse_spec(to_json(*s))->cpu_quota, 1.5);
  EXPECT_FALSE(container_with(R"(,"cpus":1,"cpu_quota":1.5)"));
  EXPECT_FALSE(container_with(R"(,"cpu_quota":0)"));
  EXPECT_FALSE(container_with(R"(,"cpu_quota":"half")"));
  auto vm = parse_spec_text(R"({"name":"v","type":"vm","kernel":"/k","cpu_quota":0.5})");
  ASSERT_FALSE(vm);
  EXPECT_NE(vm.error().to_string().find("whole vCPUs"), std::string::npos);
}

constexpr const char* kPasswd = "root:x:0:0:root:/root:/bin/sh\n# comment\nbroken line\nalice:x:1000:1001::/home/alice:/bin/sh\n";
constexpr const char* kGroup = "root:x:0:\nalice:x:1001:\nstaff:x:50:bob,alice\nwheel:x:10:alice\nodd:x:notanumber:alice\n";

TEST(ContainerUser, NamesAndNumbersResolveAsDockerDoes) {
  auto alice = resolve_user("alice", kPasswd, kGroup);
  ASSERT_TRUE(alice) << alice.error().to_string();
  EXPECT_EQ(alice->uid, 1000u);
  EXPECT_EQ(alice->gid, 1001u);
  EXPECT_EQ(alice->additional_gids, (std::vector<uint32_t>{50, 10}));
  auto by_uid = resolve_user("1000", kPasswd, kGroup);  // a uid with an entry takes its group
  ASSERT_TRUE(by_uid);
  EXPECT_EQ(by_uid->gid, 1001u);
  auto unknown_uid = resolve_user("4242", kPasswd, kGroup);
  ASSERT_TRUE(unknown_uid);
  EXPECT_EQ(unknown_uid->uid, 4242u);
  EXPECT_EQ(unknown_uid->gid, 0u);
  auto with_group = resolve_user("alice:staff", kPasswd, kGroup);
  ASSERT_TRUE(with_group);
  EXPECT_EQ(with_group->gid, 50u);
  EXPECT_EQ(with_group->additional_gids, (std::vector<uint32_t>{10}));
  auto numbers = resolve_user("7:8", "", "");  // no files at all: numbers still work
  ASSERT_TRUE(numbers);
  EXPECT_EQ(numbers->uid, 7u);
  EXPECT_EQ(numbers->gid, 8u);
}

TEST(ContainerUser, UnknownNamesAreRefusedWithDockersWords) {
  auto bob = resolve_user("bob", kPasswd, kGroup);
  ASSERT_FALSE(bob);
  EXPECT_NE(bob.error().to_string().find("unable to find user bob"), std::string::npos);
  auto group = resolve_user("alice:nogroup", kPasswd, kGroup);
  ASSERT_FALSE(group);
  EXPECT_NE(group.error().to_string().find("unable to find group nogroup"), std::string::npos);
  EXPECT_FALSE(resolve_user("4294967295", "", ""));  // (uid_t)-1 is no uid
  EXPECT_FALSE(resolve_user("alice:odd", kPasswd, kGroup));  // a group whose gid is no number
}

}  // namespace
}  // namespace vessel::daemon
