#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "daemon/store/store.h"
#include "temp_dir.h"

namespace vessel::daemon {
namespace {

InstanceRow row(const std::string& name) { return InstanceRow{name, "container", "{}", "created"}; }

TEST(Store, CreatesSchemaWithWalAndCurrentVersion) {
  test::TempDir d{"vessel-store-test"};
  auto s = Store::open(d.path + "/db");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ((*s)->schema_version(), kSchemaVersion);
  EXPECT_TRUE(std::filesystem::exists(d.path + "/db-wal"));
}

TEST(Store, InstancesCrud) {
  test::TempDir d{"vessel-store-test"};
  auto s = std::move(*Store::open(d.path + "/db"));
  ASSERT_TRUE(s->insert_instance(row("a")));
  auto dup = s->insert_instance(row("a"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().errnum(), EEXIST);
  ASSERT_TRUE(s->update_instance_state("a", "running", 42, 1234));
  auto got = s->get_instance("a");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->state, "running");
  EXPECT_EQ((*got)->pid, 42);
  EXPECT_EQ((*got)->pid_start, 1234);
  EXPECT_EQ(s->update_instance_state("zzz", "running", 0, 0).error().errnum(), ENOENT);
  ASSERT_TRUE(s->delete_instance("a"));
  EXPECT_FALSE(*s->get_instance("a"));
  EXPECT_EQ(s->delete_instance("a").error().errnum(), ENOENT);
}

TEST(Store, BackupSchedulesAreReplacedRecordedAndGoWithTheirInstance) {
  test::TempDir d{"vessel-store-test"};
  auto s = std::move(*Store::open(d.path + "/db"));
  auto none = s->set_backup_schedule("ghost", "{}");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().errnum(), ENOENT);
  ASSERT_TRUE(s->insert_instance(row("a")));
  ASSERT_TRUE(s->set_backup_schedule("a", R"({"every_s":1})"));
  ASSERT_TRUE(s->record_backup_run("a", 100, "a-1.tar", ""));
  ASSERT_TRUE(s->set_backup_schedule("a", R"({"every_s":2})"));  // replaced, its last run kept
  auto list = s->list_backup_schedules().value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].spec, R"({"every_s":2})");
  EXPECT_EQ(list[0].last_run, 100);
  EXPECT_EQ(list[0].last_file, "a-1.tar");
  ASSERT_TRUE(s->delete_instance("a"));
  EXPECT_TRUE(s->list_backup_schedules().value().empty());
  EXPECT_FALSE(s->delete_backup_schedule("a").value());
}

TEST(Store, CommittedStateSurvivesReopen) {
  test::TempDir d{"vessel-store-test"};
  {
    auto s = std::move(*Store::open(d.path + "/db"));
    ASSERT_TRUE(s->insert_instance(row("keep")));
    ASSERT_TRUE(s->insert_image(ImageRow{"img", "container", "sha256:00", "{}"}));
  }
  auto s = std::move(*Store::open(d.path + "/db"));
  EXPECT_EQ(s->list_instances()->size(), 1u);
  EXPECT_EQ(s->list_images()->size(), 1u);
}

TEST(Store, ConcurrentInsertsOfOneNameExactlyOneWins) {
  test::TempDir d{"vessel-store-test"};
  auto s = std::move(*Store::open(d.path + "/db"));
  std::atomic<int> wins{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&] {
      auto r = s->insert_instance(row("same"));
      if (r) wins++;
      else if (r.error().errnum() == EEXIST) conflicts++;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), 15);
}

TEST(Store, MigratesAVersionOneDatabase) {
  test::TempDir d{"vessel-store-test"};
  std::string path = d.path + "/db";
  sqlite3* raw;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "CREATE TABLE instances (name TEXT PRIMARY KEY NOT NULL, type TEXT NOT NULL, spec TEXT NOT NULL,"
                         " state TEXT NOT NULL, pid INTEGER NOT NULL DEFAULT 0, pid_start INTEGER NOT NULL DEFAULT 0,"
                         " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
                         "INSERT INTO instances VALUES('old','container','{}','stopped',0,0,1,1);"
                         "PRAGMA user_version=1;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  auto s = Store::open(path);
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ((*s)->schema_version(), kSchemaVersion);
  EXPECT_EQ((*s)->list_instances()->size(), 1u);
  EXPECT_TRUE((*s)->insert_image(ImageRow{"img", "container", "sha256:00", "{}"}));
}

TEST(Store, RefusesAFutureVersion) {
  test::TempDir d{"vessel-store-test"};
  std::string path = d.path + "/db";
  { ASSERT_TRUE(Store::open(path)); }
  sqlite3* raw;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  auto s = Store::open(path);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().to_string().find("schema version 99 is newer"), std::string::npos) << s.error().to_string();
  EXPECT_FALSE(s.error().hint().empty());
}

TEST(Store, RefusesACorruptFileAndLeavesItAlone) {
  test::TempDir d{"vessel-store-test"};
  std::string path = d.path + "/db";
  std::string garbage(8192, 'x');
  std::ofstream(path) << garbage;
  auto s = Store::open(path);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().errnum(), EUCLEAN) << s.error().to_string();
  std::ifstream in(path);
  std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after, garbage) << "never recreated silently";
}

TEST(Store, RefusesADatabaseWithACorruptPage) {
  test::TempDir d{"vessel-store-test"};
  std::string path = d.path + "/db";
  {
    auto s = std::move(*Store::open(path));
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(s->insert_instance(InstanceRow{"n" + std::to_string(i), "container", std::string(500, 'j'), "created"}));
  }
  // Checkpoint the WAL into the main file, then scribble over a b-tree page.
  sqlite3* raw;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    std::string junk(16, '\xa5');
    for (int page = 1; page < 10; ++page) {  // b-tree page headers of pages 2..10
      f.seekp(4096 * page);
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
  }
  auto s = Store::open(path);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().errnum(), EUCLEAN) << s.error().to_string();
}

}  // namespace
}  // namespace vessel::daemon
