// Token buckets and rate limiters (Firecracker's semantics), on a clock the test moves by hand.
#include "vmm/rate_limiter/rate_limiter.h"

#include <gtest/gtest.h>

namespace vessel::vmm {
namespace {

constexpr uint64_t kMs = 1'000'000;
using R = TokenBucket::Reduction;

TokenBucket bucket(uint64_t size, uint64_t burst, uint64_t refill_ms) {
  return *TokenBucket::create({size, burst, refill_ms}, 0);
}

TEST(TokenBucket, StartsFullRefillsInProportionAndNeverAboveItsSize) {
  auto b = bucket(1000, 0, 100);  // 1000 tokens per 100 ms
  EXPECT_EQ(b.reduce(1000, 0).reduction, R::Success);
  EXPECT_EQ(b.budget(0), 0u);
  EXPECT_EQ(b.budget(10 * kMs), 100u);
  EXPECT_EQ(b.budget(50 * kMs), 500u);
  EXPECT_EQ(b.budget(1000 * kMs), 1000u);
  // Refilled by whole tokens: many small steps add up to what one big step gives.
  EXPECT_EQ(b.reduce(1000, 1000 * kMs).reduction, R::Success);
  for (uint64_t t = 1000 * kMs; t <= 1010 * kMs; t += 33'333) (void)b.budget(t);
  EXPECT_EQ(b.budget(1010 * kMs), 100u);
}

// Snapshots keep a bucket's level: what is left of the budget and the one-time burst, reading it
// changes nothing; put into a new bucket of the same configuration it is clamped to its size and
// refills from the new clock on.
TEST(TokenBucket, ItsLevelMovesToANewBucketClampedToItsConfiguration) {
  auto b = bucket(1000, 300, 100);
  EXPECT_EQ(b.reduce(1000, 0).reduction, R::Success);  // 300 from the burst, 700 from the budget
  auto l = b.level(10 * kMs);
  EXPECT_EQ(l.budget, 400u);
  EXPECT_EQ(l.burst, 0u);
  EXPECT_EQ(b.level(10 * kMs).budget, 400u) << "reading the level changed the bucket";
  auto fresh = *TokenBucket::create({1000, 300, 100}, 5000 * kMs);
  fresh.set_level(l, 5000 * kMs);
  EXPECT_EQ(fresh.budget(5000 * kMs), 400u);
  EXPECT_EQ(fresh.budget(5010 * kMs), 500u);
  fresh.set_level({99999, 99999}, 6000 * kMs);
  EXPECT_EQ(fresh.budget(6000 * kMs), 1000u);
  EXPECT_EQ(fresh.level(6000 * kMs).burst, 300u);
}

TEST(TokenBucket, AShortBudgetFailsTakesNothingAndSaysHowLongToWait) {
  auto b = bucket(1000, 0, 100);
  EXPECT_EQ(b.reduce(700, 0).reduction, R::Success);
  auto o = b.reduce(500, 0);
  EXPECT_EQ(o.reduction, R::Failure);
  EXPECT_EQ(o.wait_ns, 20 * kMs);  // 200 tokens missing at 10 per ms
  EXPECT_EQ(b.budget(0), 300u);
  EXPECT_EQ(b.reduce(500, 20 * kMs).reduction, R::Success);
  EXPECT_EQ(b.budget(20 * kMs), 0u);
}

TEST(TokenBucket, TheOneTimeBurstIsSpentFirstAndNeverRefilled) {
  auto b = bucket(100, 250, 10);
  EXPECT_EQ(b.reduce(200, 0).reduction, R::Success);
  EXPECT_EQ(b.one_time_burst(), 50u);
  EXPECT_EQ(b.budget(0), 100u);
  EXPECT_EQ(b.reduce(120, 0).reduction, R::Success);  // 50 from the burst, 70 from the budget
  EXPECT_EQ(b.one_time_burst(), 0u);
  EXPECT_EQ(b.budget(0), 30u);
  EXPECT_EQ(b.budget(1000 * kMs), 100u);
  EXPECT_EQ(b.one_time_burst(), 0u);
  // A failing request keeps the burst it would have used.
  auto c = bucket(100, 10, 10);
  EXPECT_EQ(c.reduce(100, 0).reduction, R::Success);  // 10 burst + 90 budget
  EXPECT_EQ(c.reduce(50, 0).reduction, R::Failure);
  auto d = bucket(100, 10, 10);
  EXPECT_EQ(d.reduce(5, 0).reduction, R::Success);
  EXPECT_EQ(d.reduce(500, 0).reduction, R::OverConsumption);
  EXPECT_EQ(d.one_time_burst(), 0u);
}

TEST(TokenBucket, MoreThanTheSizeGoesThroughOnceAndIsOwed) {
  auto b = bucket(100, 0, 10);  // 10 tokens per ms
  auto o = b.reduce(350, 0);
  EXPECT_EQ(o.reduction, R::OverConsumption);
  EXPECT_EQ(o.wait_ns, 25 * kMs);  // 250 owed
  EXPECT_EQ(b.reduce(1, 10 * kMs).reduction, R::Failure);  // 100 of the 250 paid back
  EXPECT_EQ(b.budget(25 * kMs), 0u);                       // the debt is paid exactly
  EXPECT_EQ(b.budget(30 * kMs), 50u);
  EXPECT_EQ(b.reduce(50, 30 * kMs).reduction, R::Success);
}

TEST(TokenBucket, ZeroSizeOrRefillTimeIsRefused) {
  EXPECT_FALSE(TokenBucket::create({0, 0, 10}, 0));
  EXPECT_FALSE(TokenBucket::create({10, 0, 0}, 0));
}

TEST(TokenBucket, HugeValuesDoNotOverflow) {
  auto b = bucket(UINT64_MAX / 2, 0, 3'600'000);
  EXPECT_EQ(b.reduce(UINT64_MAX / 2, 0).reduction, R::Success);
  EXPECT_GT(b.budget(1000 * kMs), 0u);
  EXPECT_LE(b.budget(UINT64_MAX), UINT64_MAX / 2);
}

TEST(RateLimiter, ARequestPassesBothBucketsOrNeither) {
  RateLimiterConfig c;
  c.bandwidth = TokenBucketConfig{4096, 0, 100};
  c.ops = TokenBucketConfig{2, 0, 100};
  RateLimiter l(c, 0);
  EXPECT_TRUE(l.consume(1024, 0));
  EXPECT_FALSE(l.consume(4096, 0));  // the bytes are short: the op is given back
  EXPECT_TRUE(l.blocked(0));
  uint64_t wake = l.wake_at_ns();
  EXPECT_EQ(wake, 25 * kMs);  // 1024 bytes missing at 40.96 per ms, rounded up
  EXPECT_FALSE(l.consume(1, wake - 1));
  EXPECT_TRUE(l.consume(4096, wake));  // the op given back is there
  EXPECT_FALSE(l.consume(1, wake));    // both ops used: now the ops bucket refuses
}

TEST(RateLimiter, OverConsumptionPassesAndBlocksUntilPaid) {
  RateLimiterConfig c;
  c.bandwidth = TokenBucketConfig{1000, 0, 1000};  // 1 byte per ms
  RateLimiter l(c, 0);
  EXPECT_TRUE(l.consume(3000, 0));
  EXPECT_EQ(l.wake_at_ns(), 2000 * kMs);
  EXPECT_FALSE(l.consume(1, 1999 * kMs));
  EXPECT_TRUE(l.consume(1, 2001 * kMs));
}

TEST(RateLimiter, WithoutBucketsEverythingPassesAndUpdateReplacesThem) {
  RateLimiter none({}, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(none.consume(1 << 30, 0));
  RateLimiterConfig c;
  c.ops = TokenBucketConfig{1, 0, 1000};
  none.update(c, 0);
  EXPECT_TRUE(none.consume(1, 0));
  EXPECT_FALSE(none.consume(1, 0));
  none.update({}, 0);
  EXPECT_FALSE(none.blocked(0));
  EXPECT_TRUE(none.consume(1, 0));
}

TEST(RateLimiterConfig, ParsesFirecrackersShapeAndRefusesBadFields) {
  auto j = json::parse(R"({"bandwidth":{"size":1048576,"one_time_burst":4194304,"refill_time":1000},"ops":{"size":100,"refill_time":1000}})");
  ASSERT_TRUE(j);
  auto c = parse_rate_limiter(*j, "drives[0].rate_limiter");
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_TRUE(c->bandwidth && c->ops);
  EXPECT_EQ(c->bandwidth->one_time_burst, 4194304u);
  EXPECT_EQ(c->ops->one_time_burst, 0u);
  auto round = parse_rate_limiter(to_json(*c), "again");
  ASSERT_TRUE(round);
  EXPECT_TRUE(*round == *c);
  auto zero = parse_rate_limiter(*json::parse(R"({"bandwidth":{"size":0,"refill_time":100}})"), "r");
  ASSERT_TRUE(zero);
  EXPECT_FALSE(zero->bandwidth);  // Firecracker: a bucket of size 0 limits nothing
  for (const char* bad : {R"([])", R"({"bandwith":{}})", R"({"ops":{"size":-1,"refill_time":1}})",
                          R"({"ops":{"size":1}})", R"({"ops":{"size":1,"refill_time":"1"}})",
                          R"({"ops":{"size":1,"refill_time":1,"extra":1}})", R"({"ops":5})"}) {
    auto r = parse_rate_limiter(*json::parse(bad), "drives[0].rate_limiter");
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().to_string().find("drives[0].rate_limiter"), std::string::npos) << r.error().to_string();
    }
  }
}

}  // namespace
}  // namespace vessel::vmm
