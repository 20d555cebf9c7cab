#include <gtest/gtest.h>
#include <unistd.h>

#include "cli/mount_flags.h"

namespace vessel::cli {
namespace {

std::string cwd() {
  char buf[4096];
  return ::getcwd(buf, sizeof buf) ? buf : "";
}

TEST(VolumeFlag, AHostPathIsABindAndANameAVolume) {
  auto bind = parse_volume_flag("/srv/data:/data:ro");
  ASSERT_TRUE(bind) << bind.error().to_string();
  EXPECT_EQ(*bind, (json::Json{{"type", "bind"}, {"source", "/srv/data"}, {"target", "/data"}, {"read_only", true}}));
  auto named = parse_volume_flag("cache:/var/cache:rw,z");
  ASSERT_TRUE(named) << named.error().to_string();
  EXPECT_EQ(*named, (json::Json{{"type", "volume"}, {"source", "cache"}, {"target", "/var/cache"}, {"read_only", false}}));
}

TEST(VolumeFlag, RelativeHostPathsAreMadeAbsoluteHere) {
  auto bind = parse_volume_flag("./work:/work");
  ASSERT_TRUE(bind) << bind.error().to_string();
  EXPECT_EQ((*bind)["type"], "bind");
  EXPECT_EQ((*bind)["source"], cwd() + "/work");
}

TEST(VolumeFlag, MalformedOnesSayWhatIsExpected) {
  for (const char* bad : {":/data", "x:", "a:b:c:d", "/a:/b:exec", ""}) {
    auto r = parse_volume_flag(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().to_string().find(bad), std::string::npos) << r.error().to_string();
    }
  }
  // A target alone is Docker's anonymous volume: no source, vesseld names it.
  auto anonymous = parse_volume_flag("/data");
  ASSERT_TRUE(anonymous) << anonymous.error().to_string();
  EXPECT_EQ(*anonymous, (json::Json{{"type", "volume"}, {"target", "/data"}}));
  auto mounted = parse_mount_flag("type=volume,target=/cache");
  ASSERT_TRUE(mounted) << mounted.error().to_string();
  EXPECT_EQ(*mounted, (json::Json{{"type", "volume"}, {"target", "/cache"}}));
}

TEST(MountFlag, DockersKeysAndSpellings) {
  auto bind = parse_mount_flag("type=bind,src=/etc/hosts,dst=/hosts,readonly");
  ASSERT_TRUE(bind) << bind.error().to_string();
  EXPECT_EQ(*bind, (json::Json{{"type", "bind"}, {"source", "/etc/hosts"}, {"target", "/hosts"}, {"read_only", true}}));
  auto volume = parse_mount_flag("source=data,target=/data,ro=false");  // type defaults to volume
  ASSERT_TRUE(volume) << volume.error().to_string();
  EXPECT_EQ(*volume, (json::Json{{"type", "volume"}, {"source", "data"}, {"target", "/data"}, {"read_only", false}}));
  auto tmpfs = parse_mount_flag("type=tmpfs,destination=/scratch,tmpfs-size=64m,tmpfs-mode=1770");
  ASSERT_TRUE(tmpfs) << tmpfs.error().to_string();
  EXPECT_EQ(*tmpfs, (json::Json{{"type", "tmpfs"}, {"target", "/scratch"}, {"tmpfs_size", 64u << 20}, {"tmpfs_mode", 01770}}));
  for (const char* bad : {"type=bind,target=/x", "type=nfs,source=a,target=/x", "source=a", "type=tmpfs,source=a,target=/x",
                          "type=bind,source=/a,target=/b,colour=red", "type=tmpfs,target=/t,tmpfs-mode=999",
                          "type=tmpfs,target=/t,tmpfs-size=lots", "source=a,target=/x,readonly=maybe"})
    EXPECT_FALSE(parse_mount_flag(bad)) << bad;
}

TEST(TmpfsFlag, TargetAndOptions) {
  auto plain = parse_tmpfs_flag("/run");
  ASSERT_TRUE(plain);
  EXPECT_EQ(*plain, (json::Json{{"type", "tmpfs"}, {"target", "/run"}}));
  auto sized = parse_tmpfs_flag("/tmp:size=1g,mode=700,ro,nosuid");
  ASSERT_TRUE(sized) << sized.error().to_string();
  EXPECT_EQ(*sized, (json::Json{{"type", "tmpfs"}, {"target", "/tmp"}, {"tmpfs_size", 1ull << 30}, {"tmpfs_mode", 0700}, {"read_only", true}}));
  EXPECT_FALSE(parse_tmpfs_flag("/tmp:size=x"));
  EXPECT_FALSE(parse_tmpfs_flag("/tmp:exec"));
}

}  // namespace
}  // namespace vessel::cli
