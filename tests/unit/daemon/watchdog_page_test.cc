// The page vesseld shares with vessel-watchdog (src/daemon/watchdog/watchdog_page.h): what one
// mapping publishes another reads as one snapshot; an update left half done (vesseld stopped in
// the middle) leaves the previous snapshot in force.
#include "daemon/watchdog/watchdog_page.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

namespace vessel::daemon::watchdog {
namespace {

TEST(WatchdogPage, AReaderSeesEachPublishedSnapshotOnce) {
  auto writer = Page::create();
  ASSERT_TRUE(writer) << writer.error().to_string();
  auto reader = Page::open(writer->fd());
  ASSERT_TRUE(reader) << reader.error().to_string();
  Snapshot s;
  EXPECT_FALSE(reader->read(s));  // nothing published yet
  writer->publish({{101, 5001}, {102, 5002}}, {}, 123456789);
  ASSERT_TRUE(reader->read(s));
  EXPECT_EQ(s.kill_after_ns, 123456789);
  ASSERT_EQ(s.processes.size(), 2u);
  EXPECT_EQ(s.processes[1].pid, 102);
  EXPECT_EQ(s.processes[1].start_time, 5002);
  EXPECT_FALSE(reader->read(s));  // no newer word
  writer->publish({}, {}, 0);
  ASSERT_TRUE(reader->read(s));
  EXPECT_TRUE(s.processes.empty());
  EXPECT_EQ(s.kill_after_ns, 0);
}

TEST(WatchdogPage, AHalfDoneUpdateLeavesThePreviousSnapshot) {
  auto writer = Page::create();
  ASSERT_TRUE(writer);
  auto reader = Page::open(writer->fd());
  ASSERT_TRUE(reader);
  writer->publish({{7, 70}}, {"/vessel/web"}, 1000);
  Snapshot s;
  ASSERT_TRUE(reader->read(s));
  // A writer stopped between its two sequence steps: the sequence is odd, the slots half new.
  auto raw = Mmap::map(writer->fd(), sizeof(PageLayout), PROT_READ | PROT_WRITE, MAP_SHARED);
  ASSERT_TRUE(raw);
  auto* layout = reinterpret_cast<PageLayout*>(raw->data());
  layout->sequence.fetch_add(1);
  layout->slots[0].pid.store(8);
  layout->kill_after_ns.store(5000);
  layout->cgroup_count.store(0);
  EXPECT_FALSE(reader->read(s));
  EXPECT_EQ(s.processes.at(0).pid, 7);
  EXPECT_EQ(s.kill_after_ns, 1000);
  EXPECT_EQ(s.cgroups, std::vector<std::string>{"/vessel/web"});
}

TEST(WatchdogPage, KeepsAtMostItsCapacity) {
  auto writer = Page::create();
  ASSERT_TRUE(writer);
  std::vector<WatchedProcess> many(kMaxWatched + 10, WatchedProcess{1, 1});
  std::vector<std::string> cgroups;
  for (uint32_t i = 0; i < kMaxCgroups + 10; ++i) cgroups.push_back("/vessel/copy-" + std::to_string(i));
  writer->publish(many, cgroups, 1);
  Snapshot s;
  ASSERT_TRUE(Page::open(writer->fd())->read(s));
  EXPECT_EQ(s.processes.size(), kMaxWatched);
  ASSERT_EQ(s.cgroups.size(), kMaxCgroups);
  EXPECT_EQ(s.cgroups.back(), "/vessel/copy-" + std::to_string(kMaxCgroups - 1));
}

// Paths of every length a slot's words can split them at, up to the longest a slot takes.
TEST(WatchdogPage, CarriesCgroupPathsWhole) {
  auto writer = Page::create();
  ASSERT_TRUE(writer);
  auto reader = Page::open(writer->fd());
  ASSERT_TRUE(reader);
  std::vector<std::string> paths;
  for (size_t n : {1, 7, 8, 9, 16, 100, 254, 255}) paths.push_back("/" + std::string(n - 1, static_cast<char>('a' + n % 26)));
  writer->publish({}, paths, 42);
  Snapshot s;
  ASSERT_TRUE(reader->read(s));
  EXPECT_EQ(s.cgroups, paths);
  EXPECT_EQ(s.kill_after_ns, 42);
  // Fewer next time: the slots beyond the count are not read, and a shorter path in a slot that
  // held a longer one ends where it ends.
  writer->publish({}, {"/x"}, 43);
  ASSERT_TRUE(reader->read(s));
  EXPECT_EQ(s.cgroups, std::vector<std::string>{"/x"});
}

// A path longer than a slot takes is left out (vesseld refuses to start such a copy), not cut.
TEST(WatchdogPage, LeavesOutAPathTooLongForASlot) {
  auto writer = Page::create();
  ASSERT_TRUE(writer);
  std::string too_long = "/" + std::string(kMaxCgroupPath, 'b');
  writer->publish({}, {"/vessel/a", too_long, "", "/vessel/b"}, 1);
  Snapshot s;
  ASSERT_TRUE(Page::open(writer->fd())->read(s));
  EXPECT_EQ(s.cgroups, (std::vector<std::string>{"/vessel/a", "/vessel/b"}));
}

}  // namespace
}  // namespace vessel::daemon::watchdog
