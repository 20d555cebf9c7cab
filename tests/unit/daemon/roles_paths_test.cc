// Unit tests of what a TLS client may do (gap 9 of docs/threat-model.md): the role each request
// needs, the role stored with a trust entry (and the default for entries that have none), the
// trust routes' admin check, and the host path policy (prefixes, realpath, symlink escapes).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "base/fd.h"
#include "daemon/api/host_paths.h"
#include "daemon/api/roles.h"
#include "daemon/api/tls_identity.h"
#include "daemon/api/tls_listener.h"
#include "temp_dir.h"

namespace vessel::daemon {
namespace {

http::Request req(const std::string& method, const std::string& path, const std::string& body = "") {
  http::Request r;
  r.method = method;
  r.path = path;
  r.body = body;
  return r;
}

TEST(Roles, EachRequestNeedsTheLeastRoleThatMayMakeIt) {
  EXPECT_EQ(required_role(req("GET", "/v1/instances")), Role::ReadOnly);
  EXPECT_EQ(required_role(req("GET", "/v1/instances/a/logs")), Role::ReadOnly);
  EXPECT_EQ(required_role(req("GET", "/metrics")), Role::ReadOnly);
  EXPECT_EQ(required_role(req("POST", "/v1/instances/a/wait")), Role::ReadOnly);
  EXPECT_EQ(required_role(req("POST", "/v1/instances/a/wait", "{}")), Role::Operator);
  EXPECT_EQ(required_role(req("GET", "/v1/instances/a/console")), Role::Operator);  // types into the guest
  EXPECT_EQ(required_role(req("POST", "/v1/instances")), Role::Operator);
  for (const char* m : {"GET", "HEAD", "PUT"})  // vessel cp reads and writes any file
    EXPECT_EQ(required_role(req(m, "/v1/instances/a/archive")), Role::Operator) << m;
  EXPECT_EQ(required_role(req("POST", "/v1/instances/a/exec")), Role::Operator);
  EXPECT_EQ(required_role(req("GET", "/v1/instances/a/export")), Role::Operator);  // every file of it
  EXPECT_EQ(required_role(req("POST", "/v1/instances/import")), Role::Operator);
  EXPECT_EQ(required_role(req("DELETE", "/v1/instances/a")), Role::Operator);
  EXPECT_EQ(required_role(req("POST", "/v1/images")), Role::Operator);
  EXPECT_EQ(required_role(req("PUT", "/v1/anything")), Role::Operator);
  EXPECT_EQ(required_role(req("GET", "/v1/trust")), Role::Admin);
  EXPECT_EQ(required_role(req("POST", "/v1/trust")), Role::Admin);
  EXPECT_EQ(required_role(req("DELETE", "/v1/trust/abc")), Role::Admin);
  EXPECT_EQ(required_role(req("GET", "/v1/trustees")), Role::ReadOnly);  // not the trust route

  auto refused = refuse_unless(req("POST", "/v1/instances"), Role::ReadOnly);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_NE(refused->body.find("needs the operator role; this client certificate is read-only"), std::string::npos)
      << refused->body;
  EXPECT_FALSE(refuse_unless(req("POST", "/v1/instances"), Role::Operator));
  EXPECT_FALSE(refuse_unless(req("DELETE", "/v1/trust/x"), Role::Admin));
  for (auto r : {Role::ReadOnly, Role::Operator, Role::Admin}) EXPECT_EQ(parse_role(to_string(r)), r);
  EXPECT_FALSE(parse_role("root"));
  EXPECT_FALSE(parse_role("Admin"));
}

std::string make_cert(const std::string& dir, const std::string& name) {
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=" + name +
                    " -keyout " + dir + "/" + name + ".key -out " + dir + "/" + name + ".crt 2>/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return read_file(dir + "/" + name + ".crt").value_or("");
}

TEST(TrustRoles, StoredWithTheEntryAndEntriesWithoutOneAreReadOnly) {
  test::TempDir tmp{"vessel-roles"};
  TrustStore trust(tmp.path + "/trust");
  auto a = trust.add(make_cert(tmp.path, "alice"), "alice", Role::Operator);
  ASSERT_TRUE(a) << a.error().to_string();
  EXPECT_EQ(a->value("role", ""), "operator");
  std::string fp = a->value("fingerprint", "");
  EXPECT_EQ(trust.role_of(fp), Role::Operator);
  auto b = trust.add(make_cert(tmp.path, "bob"), "bob");
  ASSERT_TRUE(b);
  EXPECT_EQ(trust.role_of(b->value("fingerprint", "")), Role::ReadOnly);  // the default
  EXPECT_FALSE(trust.role_of(std::string(64, 'a')));

  // An entry made before roles existed: its FINGERPRINT.json has no role, or is gone, or broken.
  std::string meta = tmp.path + "/trust/" + fp + ".json";
  ASSERT_TRUE(write_file(meta, R"({"name":"alice","added_at":1})"));
  EXPECT_EQ(trust.role_of(fp), Role::ReadOnly);
  ASSERT_TRUE(write_file(meta, R"({"name":"alice","role":"superuser"})"));
  EXPECT_EQ(trust.role_of(fp), Role::ReadOnly);
  ::unlink(meta.c_str());
  EXPECT_EQ(trust.role_of(fp), Role::ReadOnly);
  ASSERT_TRUE(write_file(meta, R"({"name":"alice","role":"admin"})"));
  EXPECT_EQ(trust.role_of(fp), Role::Admin);
  auto list = trust.list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  for (const auto& e : *list) EXPECT_EQ(e.value("role", ""), e.value("fingerprint", "") == fp ? "admin" : "read-only");
}

TEST(TrustRoles, TheTrustRoutesNeedAdminAndTakeARole) {
  test::TempDir tmp{"vessel-roles"};
  TrustStore trust(tmp.path + "/trust");
  std::string pem = make_cert(tmp.path, "carol");
  auto body = json::Json{{"certificate", pem}, {"role", "operator"}}.dump();
  for (Role r : {Role::ReadOnly, Role::Operator}) {
    auto answer = trust_route(req("POST", "/v1/trust", body), trust, r);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 403);
    EXPECT_NE(answer->body.find("needs the admin role"), std::string::npos) << answer->body;
    EXPECT_EQ(trust_route(req("GET", "/v1/trust"), trust, r)->status, 403);
  }
  EXPECT_EQ(trust.list()->size(), 0u);
  auto bad = trust_route(req("POST", "/v1/trust", json::Json{{"certificate", pem}, {"role", "root"}}.dump()), trust, Role::Admin);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("trust.role"), std::string::npos) << bad->body;
  auto ok = trust_route(req("POST", "/v1/trust", body), trust, Role::Admin);
  ASSERT_EQ(ok->status, 201) << ok->body;
  EXPECT_NE(ok->body.find(R"("role":"operator")"), std::string::npos) << ok->body;
  EXPECT_FALSE(trust_route(req("GET", "/v1/instances"), trust, Role::ReadOnly));  // not a trust route
}

TEST(HostPaths, OnlyUnderAPrefixAfterResolvingUnlessAdmin) {
  test::TempDir tmp{"vessel-roles"};
  std::string allowed = tmp.path + "/allowed";
  std::filesystem::create_directories(allowed + "/sub");
  std::filesystem::create_directories(tmp.path + "/allowed-not");
  ASSERT_TRUE(write_file(allowed + "/sub/disk.img", "x"));
  ASSERT_TRUE(write_file(tmp.path + "/allowed-not/disk.img", "x"));
  ASSERT_EQ(::symlink("/etc/passwd", (allowed + "/escape").c_str()), 0);
  ASSERT_EQ(::symlink("sub/disk.img", (allowed + "/inside").c_str()), 0);
  auto policy = HostPathPolicy::create({allowed + "/"});
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->prefixes(), std::vector<std::string>{allowed});

  EXPECT_EQ(policy->admit(allowed + "/sub/disk.img", Role::Operator, "f").value_or(""), allowed + "/sub/disk.img");
  EXPECT_EQ(policy->admit(allowed + "/inside", Role::Operator, "f").value_or(""), allowed + "/sub/disk.img");
  EXPECT_EQ(policy->admit(allowed + "/./sub/../sub/disk.img", Role::Operator, "f").value_or(""), allowed + "/sub/disk.img");
  for (const auto& outside : {allowed + "/escape", tmp.path + "/allowed-not/disk.img", allowed + "/../allowed-not/disk.img",
                              std::string("/etc/shadow"), std::string("/"), allowed + "/missing"}) {
    auto r = policy->admit(outside, Role::Operator, "spec.rootfs");
    ASSERT_FALSE(r) << outside;
    EXPECT_EQ(r.error().errnum(), EPERM);
    EXPECT_NE(r.error().to_string().find("spec.rootfs: " + outside), std::string::npos) << r.error().to_string();
    EXPECT_NE(r.error().hint().find(allowed), std::string::npos);
  }
  // An admin names any path, unchanged (not even resolved).
  EXPECT_EQ(policy->admit(allowed + "/escape", Role::Admin, "f").value_or(""), allowed + "/escape");
  // No prefixes: nothing for non-admins, with a hint saying how to allow some.
  auto none = HostPathPolicy::create({});
  ASSERT_TRUE(none);
  auto r = none->admit(allowed + "/sub/disk.img", Role::Operator, "f");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().hint().find("--allowed-host-path"), std::string::npos);
  EXPECT_FALSE(HostPathPolicy::create({"relative/dir"}));
}

TEST(HostPaths, EveryPathOfASpecAndAnImageRequestIsCheckedAndRewritten) {
  test::TempDir tmp{"vessel-roles"};
  std::string allowed = tmp.path + "/a";
  std::filesystem::create_directories(allowed);
  for (auto f : {"k", "i", "d0", "d1", "archive.tar"}) ASSERT_TRUE(write_file(allowed + "/" + f, "x"));
  ASSERT_EQ(::symlink("k", (allowed + "/k-link").c_str()), 0);
  auto policy = HostPathPolicy::create({allowed});
  ASSERT_TRUE(policy);
  InstanceSpec vm;
  vm.type = InstanceType::Vm;
  vm.kernel = allowed + "/k-link";
  vm.initramfs = allowed + "/i";
  vm.disks = {DiskSpec{allowed + "/d0", false, "raw", 0}, DiskSpec{"", false, "", 64}, DiskSpec{allowed + "/d1", true, "raw", 0}};
  ASSERT_TRUE(policy->admit(vm, Role::Operator));
  EXPECT_EQ(vm.kernel, allowed + "/k");
  InstanceSpec bad = vm;
  bad.disks[2].path = "/etc/shadow";
  auto r = policy->admit(bad, Role::Operator);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("spec.disks[2].path"), std::string::npos);
  bad = vm;
  bad.initramfs = "/boot";
  EXPECT_FALSE(policy->admit(bad, Role::Operator));
  InstanceSpec ctr;
  ctr.rootfs = "/";
  EXPECT_FALSE(policy->admit(ctr, Role::Operator));
  EXPECT_TRUE(policy->admit(ctr, Role::Admin));

  ImageRequest image;
  image.archive = allowed + "/archive.tar";
  ASSERT_TRUE(policy->admit(image, Role::Operator));
  image.archive = "/etc/passwd";
  EXPECT_FALSE(policy->admit(image, Role::Operator));
  ImageRequest vm_image;
  vm_image.type = "vm";
  vm_image.kernel = allowed + "/k";
  vm_image.disks = {{allowed + "/d0", "raw"}, {"/dev/sda", "raw"}};
  r = policy->admit(vm_image, Role::Operator);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("image.disks[1].path"), std::string::npos);
}

}  // namespace
}  // namespace vessel::daemon
