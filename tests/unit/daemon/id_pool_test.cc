// --userns=auto's pool (policy/id_pool.h), its spec field and the store's allocation.
#include "daemon/policy/id_pool.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "daemon/spec/spec.h"
#include "daemon/store/store.h"

namespace vessel::daemon {
namespace {

TEST(IdPool, ParsesStartCountAndRefusesRootAndOverflow) {
  auto p = parse_id_pool("100000:655360");
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(p->uid, 100000u);
  EXPECT_EQ(p->gid, 100000u);
  EXPECT_EQ(p->capacity(), 655360u);
  for (const char* bad :
       {"", "100000", "0:65536", "100000:0", "x:1", "1:-1", "4294900000:100000", "100000:65536:1"})
    EXPECT_FALSE(parse_id_pool(bad)) << bad;
}

TEST(IdPool, ReadsTheVesselEntriesOfSubuidAndSubgid) {
  auto p = id_pool_from_subid("alice:100000:65536\nvessel:1000000:131072\n",
                              "vessel:2000000:65536\n", "vessel");
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(p->uid, 1000000u);
  EXPECT_EQ(p->gid, 2000000u);
  EXPECT_EQ(p->capacity(), 65536u) << "the smaller of the two";
  auto missing = id_pool_from_subid("alice:100000:65536\n", "vessel:2000000:65536\n", "vessel");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().errnum(), ENOENT);
  EXPECT_FALSE(id_pool_from_subid("vessel:0:65536\n", "vessel:0:65536\n", "vessel"))
      << "never host root";
}

TEST(IdPool, PicksTheFirstRangeThatOverlapsNothingTaken) {
  IdPool pool{1000000, 4 * 65536, 3000000, 4 * 65536};
  auto first = pick_id_range(pool, {}, 65536);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, (IdRange{1000000, 3000000, 65536}));
  // A range taken under another alignment (an older pool) blocks the two it touches.
  std::vector<IdRange> taken{{1000000 + 100, 3000000 + 100, 65536}};
  auto next = pick_id_range(pool, taken, 65536);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->uid, 1000000u + 2 * 65536);
  // gids count too.
  taken = {{9000000, 3000000, 65536}};
  EXPECT_EQ(pick_id_range(pool, taken, 65536)->gid, 3000000u + 65536);
  taken = {{1000000, 3000000, 4 * 65536}};
  EXPECT_FALSE(pick_id_range(pool, taken, 65536)) << "full";
  EXPECT_FALSE(pick_id_range(IdPool{1000000, 1000, 1000000, 1000}, {}, 65536))
      << "smaller than one range";
}

TEST(IdPool, SpecTakesUsernsHostOrAutoForContainersOnly) {
  auto base = json::Json{{"name", "c"}, {"rootfs", "/r"}};
  auto spec = base;
  spec["userns"] = "auto";
  auto s = parse_spec(spec);
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->security.userns, UsernsMode::Auto);
  EXPECT_EQ(to_json(*s).value("userns", ""), "auto");
  EXPECT_EQ(parse_spec(to_json(*s))->security.userns, UsernsMode::Auto) << "round trip";
  EXPECT_EQ(parse_spec(base)->security.userns, UsernsMode::Host);
  EXPECT_FALSE(to_json(*parse_spec(base)).contains("userns"));
  spec["userns"] = "keep-id";
  EXPECT_FALSE(parse_spec(spec));
  spec["userns"] = 1;
  EXPECT_FALSE(parse_spec(spec));
  auto vm = json::Json{{"name", "v"}, {"type", "vm"}, {"kernel", "/k"}, {"userns", "auto"}};
  EXPECT_FALSE(parse_spec(vm)) << "VMs have no user namespace option";
}

TEST(IdPool, StoreAllocatesDisjointRangesFreesThemWithTheInstanceAndKeepsThemAcrossReopen) {
  char t[] = "/tmp/vessel-idpool-test.XXXXXX";
  std::string dir = ::mkdtemp(t);
  IdPool pool{1000000, 3 * 65536, 1000000, 3 * 65536};
  auto pick = [&](const std::vector<IdRange>& taken) { return pick_id_range(pool, taken, 65536); };
  {
    auto s = Store::open(dir + "/db");
    ASSERT_TRUE(s) << s.error().to_string();
    for (const char* n : {"a", "b"})
      ASSERT_TRUE((*s)->insert_instance({n, "container", "{}", "created"}));
    EXPECT_EQ((*s)->allocate_id_range("a", pick)->uid, 1000000u);
    EXPECT_EQ((*s)->allocate_id_range("b", pick)->uid, 1000000u + 65536);
    EXPECT_FALSE(*(*s)->id_range("nobody"));
    ASSERT_TRUE((*s)->delete_instance("a"));
    EXPECT_FALSE(*(*s)->id_range("a")) << "freed with the instance";
  }
  auto s = Store::open(dir + "/db");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ((*(*s)->id_range("b"))->uid, 1000000u + 65536) << "kept across a reopen";
  EXPECT_EQ(*(*s)->id_range_count(), 1u);
  for (const char* n : {"c", "d", "e"})
    ASSERT_TRUE((*s)->insert_instance({n, "container", "{}", "created"}));
  EXPECT_EQ((*s)->allocate_id_range("c", pick)->uid, 1000000u) << "a's range again";
  EXPECT_EQ((*s)->allocate_id_range("d", pick)->uid, 1000000u + 2 * 65536);
  auto full = (*s)->allocate_id_range("e", pick);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().errnum(), ENOSPC);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vessel::daemon
