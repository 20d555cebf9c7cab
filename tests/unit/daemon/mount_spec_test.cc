#include <gtest/gtest.h>

#include "daemon/spec/spec.h"

namespace vessel::daemon {
namespace {

constexpr const char* kContainer = R"({"name":"web","rootfs":"/r","mounts":%s})";

Result<InstanceSpec> with_mounts(const std::string& mounts) {
  std::string text = kContainer;
  text.replace(text.find("%s"), 2, mounts);
  return parse_spec_text(text);
}

TEST(MountSpec, BindVolumeAndTmpfsRoundTrip) {
  auto s = with_mounts(R"([{"type":"bind","source":"/srv/data","target":"/data/./x/","read_only":true},
                           {"type":"volume","source":"cache","target":"/cache"},
                           {"type":"tmpfs","target":"/run","tmpfs_size":1048576,"tmpfs_mode":448}])");
  ASSERT_TRUE(s) << s.error().to_string();
  ASSERT_EQ(s->mounts.size(), 3u);
  EXPECT_EQ(s->mounts[0], (MountSpec{MountKind::Bind, "/srv/data", "/data/x", true, 0, 01777}));
  EXPECT_EQ(s->mounts[1], (MountSpec{MountKind::Volume, "cache", "/cache", false, 0, 01777}));
  EXPECT_EQ(s->mounts[2], (MountSpec{MountKind::Tmpfs, "", "/run", false, 1 << 20, 0700}));
  auto again = parse_spec(to_json(*s));
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->mounts, s->mounts);
}

TEST(MountSpec, BadMountsAreRefusedNamingTheField) {
  struct Bad {
    const char* mounts;
    const char* mentions;
  };
  const Bad cases[] = {
      {R"({"type":"bind"})", "spec.mounts"},
      {R"([{"type":"nfs","source":"/a","target":"/b"}])", "spec.mounts[0].type"},
      {R"([{"type":"bind","source":"rel","target":"/b"}])", "spec.mounts[0].source"},
      {R"([{"type":"bind","source":"/a","target":"b"}])", "spec.mounts[0].target"},
      {R"([{"type":"bind","source":"/a","target":"/"}])", "container's /"},
      {R"([{"type":"bind","source":"/a","target":"/x/../etc"}])", "'..'"},
      {R"([{"type":"volume","source":"../x","target":"/b"}])", "spec.mounts[0].source"},
      {R"([{"type":"tmpfs","source":"x","target":"/b"}])", "a tmpfs has no source"},
      {R"([{"type":"bind","source":"/a","target":"/b","tmpfs_size":1}])", "tmpfs_size"},
      {R"([{"type":"tmpfs","target":"/b","tmpfs_mode":4096}])", "tmpfs_mode"},
      {R"([{"type":"tmpfs","target":"/b","colour":"red"}])", "colour"},
      {R"([{"type":"tmpfs","target":"/b"},{"type":"volume","source":"v","target":"/b/"}])", "mounted twice"},
  };
  for (const auto& c : cases) {
    auto r = with_mounts(c.mounts);
    ASSERT_FALSE(r) << c.mounts;
    EXPECT_EQ(r.error().errnum(), EINVAL) << c.mounts;
    EXPECT_NE(r.error().to_string().find(c.mentions), std::string::npos) << c.mounts << ": " << r.error().to_string();
  }
}

TEST(MountSpec, AVmTakesVolumesButNoHostDirectoryOrTmpfs) {
  auto vm = [](const std::string& mounts) {
    return parse_spec_text(R"({"name":"vm","type":"vm","kernel":"/k","mounts":)" + mounts + "}");
  };
  auto ok = vm(R"([{"type":"volume","source":"v","target":"/srv/data"},{"type":"volume","target":"/x","read_only":true}])");
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->mounts.size(), 2u);
  auto bind = vm(R"([{"type":"bind","source":"/h","target":"/v"}])");
  ASSERT_FALSE(bind);
  EXPECT_NE(bind.error().to_string().find("virtio-fs"), std::string::npos) << bind.error().to_string();
  EXPECT_NE(bind.error().hint().find("-v NAME:/v"), std::string::npos) << bind.error().hint();
  auto tmpfs = vm(R"([{"type":"tmpfs","target":"/t"}])");
  ASSERT_FALSE(tmpfs);
  EXPECT_NE(tmpfs.error().to_string().find("for containers"), std::string::npos);
  // The target travels on the kernel command line (vessel.volumes=vol0:/data): no spaces or commas.
  EXPECT_FALSE(vm(R"([{"type":"volume","source":"v","target":"/a b"}])"));
  EXPECT_FALSE(vm(R"([{"type":"volume","source":"v","target":"/a,b"}])"));
  EXPECT_FALSE(vm(R"([{"type":"volume","source":"v","target":"/a:ro"}])"));
}

}  // namespace
}  // namespace vessel::daemon
