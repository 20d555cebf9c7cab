#include <gtest/gtest.h>

#include "cli/disk_flags.h"
#include "cli/remote.h"
#include "http/public_key_pin.h"

namespace vessel::cli {
namespace {

TEST(DiskFlag, LegacyPathsStillWork) {
  auto d = parse_instance_disk("/a/b.raw:ro");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->value("path", ""), "/a/b.raw");
  EXPECT_TRUE(d->value("read_only", false));
  d = parse_instance_disk("rel.raw");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->value("path", "").front(), '/');
  EXPECT_FALSE(d->value("read_only", true));
}

TEST(DiskFlag, Keys) {
  auto d = parse_instance_disk("path=/x.qcow2,format=qcow2,ro");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->value("format", ""), "qcow2");
  EXPECT_TRUE(d->value("read_only", false));
  d = parse_instance_disk("size=1G");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->value("size_mib", uint64_t{0}), 1024u);
  EXPECT_FALSE(d->contains("path"));
  d = parse_instance_disk("size=300");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->value("size_mib", uint64_t{0}), 300u);
  for (const char* bad : {"size=", "size=big", "size=1G,ro", "size=1G,path=/x", "path=/x,format=vmdk", "format=raw",
                          "path=/x,bogus", "ro"})
    EXPECT_FALSE(parse_instance_disk(bad)) << bad;
}

TEST(DiskFlag, ImageDisks) {
  auto d = parse_image_disk("/r.qcow2");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->contains("format"));
  d = parse_image_disk("path=/r.img,format=raw");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->value("format", ""), "raw");
  for (const char* bad : {"path=/r,ro", "size=1G", "format=raw"}) EXPECT_FALSE(parse_image_disk(bad)) << bad;
}

TEST(Remote, PinFromFingerprint) {
  // sha256 of nothing, as hex and as curl's base64 pin.
  auto pin = http::public_key_pin("E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55");
  ASSERT_TRUE(pin);
  EXPECT_EQ(*pin, "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_FALSE(http::public_key_pin("abc"));
  EXPECT_FALSE(http::public_key_pin(std::string(64, 'g')));
}

TEST(Remote, OptionsNeedCertificateAndServerTrust) {
  http::ClientOptions o;
  Remote r{"http://h:1", "/etc/hostname", "/etc/hostname", std::string(64, 'a'), ""};
  EXPECT_FALSE(remote_options(r, o));
  r.url = "https://h:1";
  EXPECT_TRUE(remote_options(r, o));
  EXPECT_EQ(o.pinned_public_key.rfind("sha256//", 0), 0u);
  r.server_fingerprint.clear();
  EXPECT_FALSE(remote_options(r, o));
  r.server_ca = "/etc/hostname";
  EXPECT_TRUE(remote_options(r, o));
  r.client_key.clear();
  EXPECT_FALSE(remote_options(r, o));
}

}  // namespace
}  // namespace vessel::cli
