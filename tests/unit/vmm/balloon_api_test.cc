// The balloon's configuration and API before the VM starts (docs/vmm/balloon.md): Firecracker's
// shapes, field-naming errors, the config file's "balloon" section, and 400s with a clear
// fault_message when no balloon is configured.
#include <gtest/gtest.h>

#include "vmm/api/api_server.h"
#include "vmm/api/balloon_config.h"
#include "vmm/vmm.h"

namespace vessel::vmm {
namespace {

TEST(BalloonConfigTest, ParsesFirecrackersShape) {
  auto b = parse_balloon(*json::parse(R"({"amount_mib": 64, "deflate_on_oom": true, "stats_polling_interval_s": 5})"));
  ASSERT_TRUE(b) << b.error().to_string();
  EXPECT_EQ(b->amount_mib, 64u);
  EXPECT_TRUE(b->deflate_on_oom);
  EXPECT_EQ(b->stats_polling_interval_s, 5u);
  EXPECT_FALSE(b->free_page_reporting);
  EXPECT_EQ(to_json(*b), *json::parse(R"({"amount_mib": 64, "deflate_on_oom": true, "stats_polling_interval_s": 5})"));
  auto r = parse_balloon(*json::parse(R"({"amount_mib": 0, "deflate_on_oom": false, "free_page_reporting": true})"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->free_page_reporting);
  EXPECT_EQ(r->stats_polling_interval_s, 0u);
}

TEST(BalloonConfigTest, RefusesMissingWrongAndUnknownFields) {
  auto err = [](const char* text) {
    auto b = parse_balloon(*json::parse(text));
    EXPECT_FALSE(b) << text;
    return b ? std::string() : b.error().to_string();
  };
  EXPECT_NE(err(R"({"deflate_on_oom": true})").find("amount_mib"), std::string::npos);
  EXPECT_NE(err(R"({"amount_mib": 1})").find("deflate_on_oom"), std::string::npos);
  EXPECT_NE(err(R"({"amount_mib": -1, "deflate_on_oom": true})").find("amount_mib"), std::string::npos);
  EXPECT_NE(err(R"({"amount_mib": "1", "deflate_on_oom": true})").find("amount_mib"), std::string::npos);
  EXPECT_NE(err(R"({"amount_mib": 1, "deflate_on_oom": 1})").find("deflate_on_oom"), std::string::npos);
  EXPECT_NE(err(R"({"amount_mib": 1, "deflate_on_oom": true, "stats_polling_interval_s": 99999999})")
                .find("stats_polling_interval_s"),
            std::string::npos);
  EXPECT_NE(err(R"({"amount_mib": 1, "deflate_on_oom": true, "colour": 1})").find("colour"), std::string::npos);
  EXPECT_NE(err(R"([1])").find("object"), std::string::npos);
  EXPECT_FALSE(parse_balloon_update(*json::parse(R"({"amount_mib": 1, "deflate_on_oom": true})")));
  EXPECT_EQ(*parse_balloon_update(*json::parse(R"({"amount_mib": 7})")), 7u);
  EXPECT_EQ(*parse_balloon_stats_update(*json::parse(R"({"stats_polling_interval_s": 3})")), 3u);
  EXPECT_FALSE(parse_balloon_stats_update(*json::parse(R"({})")));
}

TEST(BalloonConfigTest, MustFitTheMachine) {
  EXPECT_TRUE(check_balloon({128}, 128, false));
  auto big = check_balloon({129}, 128, false);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().to_string().find("more than the guest's 128 MiB"), std::string::npos);
  auto huge = check_balloon({0}, 128, true);
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().to_string().find("huge_pages"), std::string::npos);
}

TEST(BalloonConfigTest, ConfigFileSection) {
  auto c = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "machine-config": {"vcpu_count": 1,
      "mem_size_mib": 256}, "balloon": {"amount_mib": 32, "deflate_on_oom": false, "stats_polling_interval_s": 1}})");
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_TRUE(c->balloon);
  EXPECT_EQ(c->balloon->amount_mib, 32u);
  EXPECT_TRUE(validate_for_start(*c));
  auto again = parse_vm_config(c->to_json().dump());  // a snapshot keeps the configuration this way
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->balloon);
  EXPECT_EQ(again->balloon->stats_polling_interval_s, 1u);
  c->balloon->amount_mib = 300;
  EXPECT_FALSE(validate_for_start(*c));
  EXPECT_FALSE(parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}, "balloon": {"amount_mib": 1}})"));
}

class BalloonApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = Vmm::create(VmConfig{}, VmmOptions{MachineOptions{-1}, {}, {}});
    ASSERT_TRUE(created);
    vmm = std::move(*created);
  }
  http::Response call(const std::string& method, const std::string& path, const std::string& body = {}) {
    http::Request r;
    r.method = method;
    r.path = path;
    r.body = body;
    return api.handle(r);
  }
  json::Json body_of(const http::Response& r) { return json::parse(r.body).value_or(json::Json{}); }

  std::unique_ptr<Vmm> vmm;
  ApiController api{[this](VmmAction a) { return vmm->handle(a); }};
};

TEST_F(BalloonApiTest, NotConfiguredIsA400WithAClearMessage) {
  for (auto [method, path, body] : {std::tuple{"GET", "/balloon", ""}, {"PATCH", "/balloon", R"({"amount_mib": 1})"},
                                    {"GET", "/balloon/statistics", ""},
                                    {"PATCH", "/balloon/statistics", R"({"stats_polling_interval_s": 1})"}}) {
    auto r = call(method, path, body);
    EXPECT_EQ(r.status, 400) << method << " " << path;
    EXPECT_NE(body_of(r)["fault_message"].get<std::string>().find("balloon device not configured"), std::string::npos)
        << r.body;
  }
  EXPECT_EQ(call("DELETE", "/balloon").status, 405);
  EXPECT_EQ(call("PUT", "/balloon/statistics", "{}").status, 405);
}

TEST_F(BalloonApiTest, PutThenPatchBeforeStart) {
  EXPECT_EQ(call("PUT", "/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 256})").status, 204);
  EXPECT_EQ(call("PUT", "/balloon", R"({"amount_mib": 300, "deflate_on_oom": true})").status, 400);
  EXPECT_EQ(call("PUT", "/balloon", R"({"amount_mib": 16, "deflate_on_oom": true})").status, 204);
  auto got = body_of(call("GET", "/balloon"));
  EXPECT_EQ(got["amount_mib"], 16);
  EXPECT_EQ(got["deflate_on_oom"], true);
  EXPECT_EQ(got["stats_polling_interval_s"], 0);
  EXPECT_EQ(call("PATCH", "/balloon", R"({"amount_mib": 64})").status, 204);
  EXPECT_EQ(body_of(call("GET", "/balloon"))["amount_mib"], 64);
  EXPECT_EQ(call("PATCH", "/balloon", R"({"amount_mib": 257})").status, 400);
  auto stats = call("GET", "/balloon/statistics");
  EXPECT_EQ(stats.status, 400);
  EXPECT_NE(stats.body.find("not enabled"), std::string::npos) << stats.body;
  EXPECT_EQ(call("PATCH", "/balloon/statistics", R"({"stats_polling_interval_s": 2})").status, 204);
  EXPECT_EQ(body_of(call("GET", "/balloon"))["stats_polling_interval_s"], 2);
  auto unstarted = call("GET", "/balloon/statistics");
  EXPECT_EQ(unstarted.status, 400);
  EXPECT_NE(unstarted.body.find("not started"), std::string::npos) << unstarted.body;
  EXPECT_EQ(body_of(call("GET", "/vm/config"))["balloon"]["amount_mib"], 64);
}

}  // namespace
}  // namespace vessel::vmm
