#include "base/json.h"

#include <gtest/gtest.h>

namespace vessel {
namespace {

TEST(Json, ParseErrorsAreResults) {
  auto r = json::parse("{\"a\": ");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("invalid JSON"), std::string::npos);
}

TEST(Json, DeepNestingIsRefusedBeforeParsing) {
  std::string deep(100000, '[');
  auto r = json::parse(deep);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("nested deeper"), std::string::npos);
  // Brackets inside strings do not count.
  auto ok = json::parse("{\"s\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}");
  EXPECT_TRUE(ok);
}

TEST(Json, SizeLimit) {
  auto r = json::parse(std::string(100, ' ') + "1", 50);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), E2BIG);
}

TEST(Json, TypedFieldsNameThePath) {
  auto j = *json::parse(R"({"vcpu_count": "two", "mem": 512, "neg": -1, "flag": true})");
  auto bad = json::get_uint(j, "machine-config", "vcpu_count");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().to_string(),
            "machine-config.vcpu_count: expected a non-negative integer, got string");
  EXPECT_EQ(*json::get_uint(j, "m", "mem"), 512u);
  EXPECT_FALSE(json::get_uint(j, "m", "neg"));
  EXPECT_TRUE(*json::get_bool(j, "m", "flag"));
  EXPECT_FALSE(json::get_string(j, "m", "missing"));
  EXPECT_FALSE(json::opt_string(j, "m", "missing")->has_value());
}

TEST(Json, UnknownFieldsAreRefused) {
  auto j = *json::parse(R"({"vcpu_count": 1, "vcpu_cuont": 2})");
  auto r = json::reject_unknown(j, "machine-config", {"vcpu_count", "mem_size_mib"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("machine-config.vcpu_cuont: unknown field"),
            std::string::npos);
}

}  // namespace
}  // namespace vessel
