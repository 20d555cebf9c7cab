// Named volumes over a real SQLite store and a real directory (no daemon): made, listed with their
// users, refused while a spec names them, pruned with the bytes they held.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "daemon/instances/volumes.h"
#include "daemon/spec/spec.h"
#include "temp_dir.h"

namespace vessel::daemon {
namespace {

namespace fs = std::filesystem;

struct VolumesOverStore : ::testing::Test {
  test::TempDir dir{"vessel-volumes-test"};
  std::unique_ptr<Store> store = std::move(*Store::open(dir.path + "/db"));
  Volumes volumes{*store, dir.path + "/volumes"};

  void add_instance(const std::string& name, const std::string& volume) {
    std::string spec = R"({"name":")" + name + R"(","rootfs":"/r","mounts":[{"type":"volume","source":")" + volume +
                       R"(","target":"/v"}]})";
    ASSERT_TRUE(parse_spec_text(spec));
    ASSERT_TRUE(store->insert_instance({name, "container", spec, "created"}));
  }
};

TEST_F(VolumesOverStore, CreateListInspectAndRemove) {
  auto made = volumes.create("data", {{"tier", "db"}});
  ASSERT_TRUE(made) << made.error().to_string();
  EXPECT_EQ((*made)["mountpoint"], dir.path + "/volumes/data/_data");
  EXPECT_TRUE(fs::is_directory(dir.path + "/volumes/data/_data"));
  EXPECT_EQ((*made)["labels"]["tier"], "db");
  auto again = volumes.create("data", {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().errnum(), EEXIST);
  auto list = volumes.list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0]["name"], "data");
  ASSERT_TRUE(volumes.remove("data"));
  EXPECT_FALSE(fs::exists(dir.path + "/volumes/data"));
  auto gone = volumes.inspect("data");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().errnum(), ENOENT);
}

TEST_F(VolumesOverStore, EnsureMakesAVolumeOnFirstUseOnly) {
  auto path = volumes.ensure("cache");
  ASSERT_TRUE(path) << path.error().to_string();
  std::ofstream(*path + "/kept") << "x";
  auto second = volumes.ensure("cache");
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, *path);
  EXPECT_TRUE(fs::exists(*path + "/kept"));
  EXPECT_FALSE(volumes.ensure("../escape"));
}

TEST_F(VolumesOverStore, AVolumeASpecNamesIsRefusedRemovalAndKeptByPrune) {
  ASSERT_TRUE(volumes.create("used", {}));
  ASSERT_TRUE(volumes.create("idle", {}));
  std::ofstream(dir.path + "/volumes/idle/_data/file") << std::string(1000, 'x');
  add_instance("web", "used");
  auto inspected = volumes.inspect("used");
  ASSERT_TRUE(inspected);
  EXPECT_EQ((*inspected)["used_by"], json::Json::array({"web"}));
  auto refused = volumes.remove("used");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errnum(), EBUSY);
  EXPECT_NE(refused.error().to_string().find("web"), std::string::npos) << refused.error().to_string();
  auto pruned = volumes.prune();
  ASSERT_TRUE(pruned) << pruned.error().to_string();
  EXPECT_EQ((*pruned)["deleted"], json::Json::array({"idle"}));
  EXPECT_EQ((*pruned)["space_reclaimed"], 1000u);
  EXPECT_TRUE(fs::is_directory(dir.path + "/volumes/used/_data"));
  ASSERT_TRUE(store->delete_instance("web"));
  EXPECT_TRUE(volumes.remove("used"));
}

TEST(VolumeRequest, IsValidatedFieldByField) {
  for (const char* bad : {"[]", R"({"name":"../x"})", R"({"name":"v","colour":"red"})", R"({"name":"v","labels":{"a":1}})",
                          R"({"labels":{}})", "not json"}) {
    EXPECT_FALSE(parse_volume_request(bad)) << bad;
  }
  auto good = parse_volume_request(R"({"name":"v","labels":{"a":"1"}})");
  ASSERT_TRUE(good) << good.error().to_string();
  EXPECT_EQ(good->name, "v");
  EXPECT_EQ(good->labels.at("a"), "1");
}

}  // namespace
}  // namespace vessel::daemon
