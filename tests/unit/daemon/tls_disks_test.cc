// Unit tests of the tls-disks parts of vesseld: disk specs, image disk requests, listen
// addresses, the TLS identity and the trust store, and per-instance overlays (no root, no KVM).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/fd.h"
#include "block/image.h"
#include "block/img_ops.h"
#include "daemon/api/requests.h"
#include "daemon/api/tls_identity.h"
#include "daemon/api/tls_listener.h"
#include "daemon/images/vm_disks.h"
#include "daemon/spec/spec.h"
#include "temp_dir.h"

namespace vessel::daemon {
namespace {

TEST(DiskSpec, PathFormatAndSize) {
  auto s = parse_spec_text(R"({"name":"v","type":"vm","kernel":"/k","disks":[
      {"path":"/a.qcow2","format":"qcow2","read_only":true},{"path":"/b.raw"},{"size_mib":1024}]})");
  ASSERT_TRUE(s) << s.error().to_string();
  ASSERT_EQ(s->disks.size(), 3u);
  EXPECT_EQ(s->disks[0].format, "qcow2");
  EXPECT_TRUE(s->disks[0].read_only);
  EXPECT_EQ(s->disks[1].format, "raw");
  EXPECT_EQ(s->disks[2].size_mib, 1024u);
  EXPECT_TRUE(s->disks[2].path.empty());
  // Round trip through the stored form.
  auto again = parse_spec(to_json(*s));
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->disks[2].size_mib, 1024u);
  EXPECT_EQ(again->disks[0].format, "qcow2");
}

TEST(DiskSpec, RefusesMixedAbsurdAndUnknown) {
  for (const char* disks : {R"([{"size_mib":0}])", R"([{"size_mib":16777217}])", R"([{"size_mib":1,"path":"/x"}])",
                            R"([{"size_mib":1,"read_only":true}])", R"([{"path":"/x","format":"vmdk"}])",
                            R"([{"path":"x.raw"}])", R"([{"path":"/x","bogus":1}])", R"([{}])"}) {
    auto s = parse_spec_text(std::string(R"({"name":"v","type":"vm","kernel":"/k","disks":)") + disks + "}");
    ASSERT_FALSE(s) << disks;
    EXPECT_EQ(s.error().errnum(), EINVAL) << disks;
    EXPECT_NE(s.error().to_string().find("disks"), std::string::npos) << s.error().to_string();
  }
}

TEST(ImageRequest, VmDisks) {
  auto r = parse_image_request(R"({"name":"deb","type":"vm","kernel":"/k","disks":[{"path":"/r.qcow2","format":"qcow2"},{"path":"/d"}]})");
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->disks.size(), 2u);
  EXPECT_EQ(r->disks[0].second, "qcow2");
  EXPECT_EQ(r->disks[1].second, "");
  for (const char* bad : {R"({"name":"c","archive":"/a.tar","disks":[{"path":"/d"}]})",
                          R"({"name":"v","type":"vm","kernel":"/k","disks":[{"path":"rel"}]})",
                          R"({"name":"v","type":"vm","kernel":"/k","disks":[{"path":"/d","format":"vdi"}]})",
                          R"({"name":"v","type":"vm","kernel":"/k","disks":{"path":"/d"}})"})
    EXPECT_FALSE(parse_image_request(bad)) << bad;
}

TEST(ListenAddress, Forms) {
  auto a = parse_listen_address("tcp://127.0.0.1:8443");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8443);
  a = parse_listen_address("tcp://[::1]:9000");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  a = parse_listen_address("tcp://:8443");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "0.0.0.0");
  for (const char* bad : {"127.0.0.1:8443", "tcp://host", "tcp://h:0", "tcp://h:65536", "tcp://h:12a", "unix:///x", "tcp://[::1:80"})
    EXPECT_FALSE(parse_listen_address(bad)) << bad;
}

// A client certificate made the way users make them.
std::string make_client_cert(const std::string& dir, const std::string& name) {
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=" + name +
                    " -keyout " + dir + "/" + name + ".key -out " + dir + "/" + name + ".crt 2>/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return read_file(dir + "/" + name + ".crt").value_or("");
}

TEST(TlsIdentity, CreatedOnceWithPrivateKeyAndFingerprints) {
  test::TempDir tmp{"vessel-tls-disks"};
  auto id = ensure_server_identity(tmp.path + "/tls");
  ASSERT_TRUE(id) << id.error().to_string();
  EXPECT_EQ(id->cert_sha256.size(), 64u);
  EXPECT_EQ(id->pubkey_sha256.size(), 64u);
  EXPECT_NE(id->cert_sha256, id->pubkey_sha256);
  struct stat st;
  ASSERT_EQ(::stat((tmp.path + "/tls/server.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_file(tmp.path + "/tls/server.fingerprint").value_or(""), id->pubkey_sha256 + "\n");
  auto again = ensure_server_identity(tmp.path + "/tls");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->cert_sha256, id->cert_sha256);
  // openssl agrees on the public key fingerprint (what curl pins).
  std::string cmd = "openssl x509 -in " + tmp.path + "/tls/server.crt -pubkey -noout | openssl pkey -pubin -outform der | "
                    "sha256sum | cut -c1-64 > " + tmp.path + "/fp";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(read_file(tmp.path + "/fp").value_or(""), id->pubkey_sha256 + "\n");
}

TEST(TrustStore, AddListRemoveAndRefuseJunk) {
  test::TempDir tmp{"vessel-tls-disks"};
  TrustStore trust(tmp.path + "/tls/trust");
  std::string alice = make_client_cert(tmp.path, "alice");
  std::string bob = make_client_cert(tmp.path, "bob");
  auto a = trust.add(alice, "alice");
  ASSERT_TRUE(a) << a.error().to_string();
  std::string fp = a->value("fingerprint", "");
  EXPECT_TRUE(trust.trusted(fp));
  auto info = inspect_certificate(bob);
  ASSERT_TRUE(info);
  EXPECT_FALSE(trust.trusted(info->sha256));
  EXPECT_FALSE(trust.trusted("../../etc/passwd"));
  EXPECT_EQ(trust.add(alice, "again").error().errnum(), EEXIST);
  ASSERT_TRUE(trust.add(bob, ""));
  auto list = trust.list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  // Removal by name, then by a prefix; a too-short prefix or an unknown one is refused.
  EXPECT_FALSE(trust.remove(fp.substr(0, 4)));
  EXPECT_EQ(trust.remove("nobody").error().errnum(), ENOENT);
  ASSERT_TRUE(trust.remove("alice"));
  EXPECT_FALSE(trust.trusted(fp));
  ASSERT_TRUE(trust.remove(info->sha256.substr(0, 10)));
  EXPECT_EQ(trust.list()->size(), 0u);
  for (std::string junk : {std::string("hello"), alice + alice, alice + "trailing", std::string(70000, 'A')})
    EXPECT_FALSE(trust.add(junk, "")) << junk.substr(0, 40);
  EXPECT_FALSE(trust.add(alice, "bad/name"));
}

TEST(VmDisks, OverlaysOnABaseAndNewDisks) {
  test::TempDir tmp{"vessel-tls-disks"};
  std::string src = tmp.path + "/src.raw";
  {
    Fd fd = *Fd::open(src, O_WRONLY | O_CREAT, 0644);
    ASSERT_EQ(::ftruncate(fd.get(), 4 << 20), 0);
  }
  auto base = import_base_disk(src, "", tmp.path + "/store/disk0.img");
  ASSERT_TRUE(base) << base.error().to_string();
  EXPECT_EQ(base->format, "raw");
  EXPECT_EQ(base->size, 4u << 20);
  struct stat st;
  ASSERT_EQ(::stat(base->path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  auto roundtrip = base_disk_from_json(to_json(*base));
  ASSERT_TRUE(roundtrip);
  EXPECT_EQ(roundtrip->path, base->path);

  auto spec = parse_spec_text(R"({"name":"v","type":"vm","kernel":"/k","disks":[{"size_mib":8}]})");
  ASSERT_TRUE(spec);
  std::string dir = tmp.path + "/inst";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  auto disks = prepare_instance_disks(*spec, {*base}, dir);
  ASSERT_TRUE(disks) << disks.error().to_string();
  ASSERT_EQ(disks->size(), 2u);
  EXPECT_EQ((*disks)[0].path, dir + "/disks/image-0.qcow2");
  EXPECT_EQ((*disks)[0].format, "qcow2");
  EXPECT_EQ((*disks)[1].path, dir + "/disks/disk-0.qcow2");  // named by its place in the spec
  auto info = block::image_info((*disks)[0].path, block::Format::Qcow2, false);
  ASSERT_TRUE(info) << info.error().to_string();
  EXPECT_EQ((*info)[0].value("backing-filename", ""), base->path);
  EXPECT_EQ((*info)[0].value("backing-filename-format", ""), "raw");
  EXPECT_EQ((*info)[0].value("virtual-size", uint64_t{0}), 4u << 20);
  auto fresh = block::image_info((*disks)[1].path, block::Format::Qcow2, false);
  ASSERT_TRUE(fresh);
  EXPECT_EQ((*fresh)[0].value("virtual-size", uint64_t{0}), 8u << 20);
  // Idempotent: a second call keeps the files (an instance's writes survive restarts).
  ASSERT_EQ(::stat((*disks)[0].path.c_str(), &st), 0);
  auto ino = st.st_ino;
  ASSERT_TRUE(prepare_instance_disks(*spec, {*base}, dir));
  ASSERT_EQ(::stat((*disks)[0].path.c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, ino);
  // A vanished base is a clear error.
  ::unlink(base->path.c_str());
  ::unlink((*disks)[0].path.c_str());
  auto gone = prepare_instance_disks(*spec, {*base}, dir);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().errnum(), ENOENT);
}

TEST(VmDisks, ImportRefusesMissingRelativeAndCorrupt) {
  test::TempDir tmp{"vessel-tls-disks"};
  EXPECT_EQ(import_base_disk(tmp.path + "/none", "raw", tmp.path + "/d").error().errnum(), ENOENT);
  EXPECT_EQ(import_base_disk("rel.raw", "raw", tmp.path + "/d").error().errnum(), EINVAL);
  std::string junk = tmp.path + "/junk.qcow2";
  {
    Fd fd = *Fd::open(junk, O_WRONLY | O_CREAT, 0644);
    std::string header = "QFI\xfb";
    header.resize(4096, '\xff');
    ASSERT_TRUE(write_all(fd.get(), header.data(), header.size()));
  }
  EXPECT_FALSE(import_base_disk(junk, "qcow2", tmp.path + "/store/d.qcow2"));
  EXPECT_NE(::access((tmp.path + "/store/d.qcow2").c_str(), F_OK), 0);
  EXPECT_NE(::access((tmp.path + "/store/d.qcow2.tmp").c_str(), F_OK), 0);
}

// A disk whose backing file name leads out of its folder (a downloaded image naming a host file)
// is not imported: the store would hold that file's bytes for every VM of the image. A chain
// inside the disk's folder is flattened as before.
TEST(VmDisks, ImportFollowsNoBackingFileOutOfTheDisksFolder) {
  test::TempDir tmp{"vessel-tls-disks"};
  std::string secret = tmp.path + "/secret.raw", dir = tmp.path + "/downloads";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_TRUE(write_file(secret, std::string(1 << 20, 's')));
  block::CreateRequest hostile{block::Format::Qcow2, dir + "/hostile.qcow2", 1 << 20, secret, block::Format::Raw, ""};
  ASSERT_TRUE(block::create_image(hostile));
  auto refused = import_base_disk(dir + "/hostile.qcow2", "qcow2", tmp.path + "/store/h.qcow2");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errnum(), EPERM) << refused.error().to_string();
  EXPECT_NE(::access((tmp.path + "/store/h.qcow2").c_str(), F_OK), 0);
  ASSERT_TRUE(write_file(dir + "/base.raw", std::string(1 << 20, 'b')));
  block::CreateRequest fine{block::Format::Qcow2, dir + "/top.qcow2", 1 << 20, "base.raw", block::Format::Raw, ""};
  ASSERT_TRUE(block::create_image(fine));
  auto imported = import_base_disk(dir + "/top.qcow2", "qcow2", tmp.path + "/store/t.qcow2");
  ASSERT_TRUE(imported) << imported.error().to_string();
  auto info = block::image_info(imported->path, block::Format::Qcow2, false);
  ASSERT_TRUE(info);
  EXPECT_FALSE((*info)[0].contains("backing-filename")) << "the chain is flattened";
}

// A disk named without a format is raw, never probed: a raw disk whose guest wrote a qcow2 header
// naming a host file (here inside the disk's folder, which a qcow2 import may follow) makes the
// import neither read that file nor guess qcow2. Without a format it is refused (the header is
// named); with format=raw its own bytes, header and all, are what the store keeps.
TEST(VmDisks, ImportWithoutAFormatIsRawAndNeverFollowsAPlantedHeader) {
  test::TempDir tmp{"vessel-tls-disks"};
  std::string dir = tmp.path + "/exported";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_TRUE(write_file(dir + "/secret.raw", std::string(1 << 20, 's')));
  std::string disk = dir + "/guest.raw";
  block::CreateRequest planted{block::Format::Qcow2, disk, 1 << 20, "secret.raw", block::Format::Raw, ""};
  ASSERT_TRUE(block::create_image(planted));
  auto source = read_file(disk);
  ASSERT_TRUE(source);
  auto refused = import_base_disk(disk, "", tmp.path + "/store/g.raw");
  ASSERT_FALSE(refused) << "imported as " << refused->format;
  EXPECT_EQ(refused.error().errnum(), EINVAL);
  EXPECT_NE(refused.error().to_string().find("has no format and begins with a qcow2 header"), std::string::npos)
      << refused.error().to_string();
  EXPECT_NE(::access((tmp.path + "/store/g.raw").c_str(), F_OK), 0);
  auto raw = import_base_disk(disk, "raw", tmp.path + "/store/g.raw");
  ASSERT_TRUE(raw) << raw.error().to_string();
  EXPECT_EQ(raw->format, "raw");
  EXPECT_EQ(raw->size, source->size());
  auto stored = read_file(raw->path);
  ASSERT_TRUE(stored);
  EXPECT_TRUE(*stored == *source) << "the disk's own bytes";
  EXPECT_EQ(stored->find("ssssssss"), std::string::npos) << "nothing of the host file";
  // A disk without that header needs no format: raw.
  ASSERT_TRUE(write_file(dir + "/plain.raw", std::string(1 << 16, 'p')));
  auto plain = import_base_disk(dir + "/plain.raw", "", tmp.path + "/store/p.raw");
  ASSERT_TRUE(plain) << plain.error().to_string();
  EXPECT_EQ(plain->format, "raw");
}

}  // namespace
}  // namespace vessel::daemon
