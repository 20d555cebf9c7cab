// Exit files (vessel-vmm's metrics file, vessel-shim's), wait statuses, and the store keeping
// how an instance ended (schema 3, migrated from 2).
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "base/fd.h"
#include "daemon/instances/exit_status.h"
#include "daemon/store/store.h"

namespace vessel::daemon {
namespace {

TEST(ExitFile, VmmMetricsFileAndShimFile) {
  auto vm = parse_exit_file(R"({"vcpu":{"count":1},"exit":{"kind":"panic","code":3,"reason":"Kernel panic - not syncing: x"}})");
  ASSERT_TRUE(vm.has_value());
  EXPECT_EQ(vm->code, 3);
  EXPECT_EQ(vm->reason, "panic");
  EXPECT_EQ(vm->detail, "Kernel panic - not syncing: x");
  auto shim = parse_exit_file(R"({"exit":{"kind":"signal","code":143,"reason":"killed by signal 15"}})");
  ASSERT_TRUE(shim.has_value());
  EXPECT_EQ(shim->code, 143);
  EXPECT_EQ(shim->to_json()["exit_code"], 143);
}

TEST(ExitFile, HostileOrBrokenFilesGiveNothingOrNoCode) {
  EXPECT_FALSE(parse_exit_file("").has_value());
  EXPECT_FALSE(parse_exit_file("{\"exit\":").has_value());
  EXPECT_FALSE(parse_exit_file(R"({"exit":[1,2]})").has_value());
  EXPECT_FALSE(parse_exit_file(R"({"vcpu":{}})").has_value());
  // A code an exit status cannot have, and fields of the wrong type: no code, reason "unknown".
  auto weird = parse_exit_file(R"({"exit":{"kind":7,"code":100000,"reason":["x"]}})");
  ASSERT_TRUE(weird.has_value());
  EXPECT_FALSE(weird->code.has_value());
  EXPECT_EQ(weird->reason, "unknown");
  EXPECT_TRUE(weird->to_json()["exit_code"].is_null());
  auto long_kind = parse_exit_file(R"({"exit":{"kind":")" + std::string(1000, 'k') + R"(","code":1}})");
  ASSERT_TRUE(long_kind.has_value());
  EXPECT_LE(long_kind->reason.size(), 32u);
}

TEST(ExitFile, ReadWaitsForTheFileToAppear) {
  char dir[] = "/tmp/vessel-exit-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/exit.json";
  EXPECT_FALSE(read_exit_file(path, std::chrono::milliseconds(50)).has_value());
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (void)write_file(path, R"({"exit":{"kind":"exited","code":9}})");
  });
  auto info = read_exit_file(path, std::chrono::seconds(5));
  writer.join();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->code, 9);
  std::filesystem::remove_all(dir);
}

TEST(WaitStatus, ExitedSignalledKilled) {
  auto exited = exit_from_wait_status(7 << 8);
  EXPECT_EQ(exited.code, 7);
  EXPECT_EQ(exited.reason, "exited");
  auto term = exit_from_wait_status(SIGTERM);
  EXPECT_EQ(term.code, 128 + SIGTERM);
  EXPECT_EQ(term.reason, "signal");
  auto kill = exit_from_wait_status(SIGKILL);
  EXPECT_EQ(kill.code, 137);
  EXPECT_EQ(kill.reason, "killed");
}

TEST(StoreExit, RecordedClearedAndMigratedFromSchema2) {
  char dir[] = "/tmp/vessel-store-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/vessel.db";
  {
    // A version-2 database with one instance, as the previous vesseld wrote it.
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    const char* v2 =
        "CREATE TABLE instances (name TEXT PRIMARY KEY NOT NULL, type TEXT NOT NULL, spec TEXT NOT NULL,"
        " state TEXT NOT NULL, pid INTEGER NOT NULL DEFAULT 0, pid_start INTEGER NOT NULL DEFAULT 0,"
        " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
        "CREATE TABLE images (name TEXT PRIMARY KEY NOT NULL, type TEXT NOT NULL, digest TEXT NOT NULL,"
        " info TEXT NOT NULL, created_at INTEGER NOT NULL);"
        "INSERT INTO instances VALUES('old','vm','{}','stopped',0,0,1,1);"
        "PRAGMA user_version=2;";
    ASSERT_EQ(sqlite3_exec(raw, v2, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
  }
  auto store = Store::open(path);
  ASSERT_TRUE(store.has_value()) << store.error().to_string();
  EXPECT_GE((*store)->schema_version(), 3);
  auto old = (*store)->get_instance("old");
  ASSERT_TRUE(old.has_value() && old->has_value());
  EXPECT_FALSE((*old)->exit_code.has_value());
  EXPECT_EQ((*old)->exit_reason, "");

  ASSERT_TRUE((*store)->set_instance_exit("old", 42, "debug-exit").has_value());
  auto after = (*store)->get_instance("old");
  EXPECT_EQ((*after)->exit_code, 42);
  EXPECT_EQ((*after)->exit_reason, "debug-exit");
  auto listed = (*store)->list_instances();
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ((*listed)[0].exit_code, 42);
  EXPECT_FALSE((*after)->oom_killed);
  EXPECT_EQ((*after)->started_at, 0) << "migrated rows never started under schema 10";
  EXPECT_GT((*after)->finished_at, 0);
  ASSERT_TRUE((*store)->clear_instance_exit("old").has_value());
  EXPECT_FALSE((*(*store)->get_instance("old"))->exit_code.has_value());
  EXPECT_GT((*(*store)->get_instance("old"))->started_at, 0);
  ASSERT_TRUE((*store)->set_instance_exit("old", 137, "killed", true).has_value());
  EXPECT_TRUE((*(*store)->get_instance("old"))->oom_killed);
  ASSERT_TRUE((*store)->clear_instance_exit("old").has_value());
  EXPECT_FALSE((*(*store)->get_instance("old"))->oom_killed) << "a new run forgets the last one's OOM kill";
  EXPECT_EQ((*store)->set_instance_exit("nope", 1, "x").error().errnum(), ENOENT);
  EXPECT_EQ((*store)->clear_instance_exit("nope").error().errnum(), ENOENT);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vessel::daemon
