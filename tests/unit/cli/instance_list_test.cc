#include "cli/instance_list.h"

#include <gtest/gtest.h>

namespace vessel::cli {
namespace {

TEST(InstanceList, AgesRoundAsDockersDo) {
  EXPECT_EQ(human_duration(0), "Less than a second");
  EXPECT_EQ(human_duration(1), "1 second");
  EXPECT_EQ(human_duration(59), "59 seconds");
  EXPECT_EQ(human_duration(60), "About a minute");
  EXPECT_EQ(human_duration(150), "2 minutes");
  EXPECT_EQ(human_duration(3599), "59 minutes");
  EXPECT_EQ(human_duration(3600), "About an hour");
  EXPECT_EQ(human_duration(5 * 3600), "5 hours");
  EXPECT_EQ(human_duration(3 * 86400), "3 days");
  EXPECT_EQ(human_duration(20 * 86400), "2 weeks");
  EXPECT_EQ(human_duration(100 * 86400), "3 months");
  EXPECT_EQ(human_duration(800 * 86400), "2 years");
  EXPECT_EQ(human_duration(-5), "Less than a second") << "a clock that went back";
}

TEST(InstanceList, StatusesAsDockersPs) {
  auto at = [](const char* text) { return json::Json::parse(text); };
  EXPECT_EQ(instance_status(at(R"({"state":"created"})"), 100), "Created");
  EXPECT_EQ(instance_status(at(R"({"state":"running","started_at":100})"), 280), "Up 3 minutes");
  EXPECT_EQ(instance_status(at(R"({"state":"running","started_at":100,"health":{"status":"starting"}})"), 101),
            "Up 1 second (health: starting)");
  EXPECT_EQ(instance_status(at(R"({"state":"paused","started_at":100})"), 110), "Up 10 seconds (Paused)");
  EXPECT_EQ(instance_status(at(R"({"state":"stopped","exit_code":137,"finished_at":100})"), 105),
            "Exited (137) 5 seconds ago");
  EXPECT_EQ(instance_status(at(R"({"state":"stopped","exit_code":null,"finished_at":0})"), 105), "Exited (?)");
  EXPECT_EQ(instance_status(at(R"({"state":"suspended","updated_at":40})"), 100), "Suspended About a minute ago");
  EXPECT_EQ(instance_status(at(R"({"state":"incoming"})"), 100), "Incoming");
}

TEST(InstanceList, PortsAsDockersPs) {
  auto ports = json::Json::parse(R"([{"host_port":8080,"guest_port":80,"protocol":"tcp"},
                                     {"host_ip":"127.0.0.1","host_port":5353,"guest_port":53,"protocol":"udp"}])");
  EXPECT_EQ(ports_text(ports), "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp");
  EXPECT_EQ(ports_text(json::Json::array()), "");
  EXPECT_EQ(ports_text(json::Json("junk")), "");
}

json::Json sample() {
  return json::Json::parse(R"([
    {"name":"web","type":"container","state":"running","labels":{"team":"a","tier":"front"}},
    {"name":"web-old","type":"container","state":"stopped","labels":{"team":"a"}},
    {"name":"vm1","type":"vm","state":"paused","labels":{}},
    {"name":"job","type":"container","state":"created"}])");
}

std::string names(const json::Json& list) {
  std::string out;
  for (const auto& i : list) out += i.value("name", "") + " ";
  return out;
}

TEST(InstanceList, RunningAndPausedOnlyUnlessAllOrAStatusFilter) {
  InstanceFilter f;
  EXPECT_EQ(names(filter_instances(sample(), f)), "web vm1 ");
  f.all = true;
  EXPECT_EQ(names(filter_instances(sample(), f)), "web web-old vm1 job ");
  InstanceFilter exited;
  ASSERT_TRUE(add_filter(exited, "status=exited"));
  EXPECT_EQ(names(filter_instances(sample(), exited)), "web-old ");
  ASSERT_TRUE(add_filter(exited, "status=created"));
  EXPECT_EQ(names(filter_instances(sample(), exited)), "web-old job ") << "one key's values are alternatives";
}

TEST(InstanceList, FiltersByNameLabelAndType) {
  InstanceFilter f;
  f.all = true;
  ASSERT_TRUE(add_filter(f, "name=web"));
  EXPECT_EQ(names(filter_instances(sample(), f)), "web web-old ") << "a part of the name, as Docker's";
  ASSERT_TRUE(add_filter(f, "label=team=a"));
  ASSERT_TRUE(add_filter(f, "label=tier"));
  EXPECT_EQ(names(filter_instances(sample(), f)), "web ") << "labels must all match";
  InstanceFilter vms;
  vms.all = true;
  ASSERT_TRUE(add_filter(vms, "type=vm"));
  EXPECT_EQ(names(filter_instances(sample(), vms)), "vm1 ");
}

TEST(InstanceList, BadFiltersSayWhatIsAccepted) {
  InstanceFilter f;
  auto unknown = add_filter(f, "color=red");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().hint().find("name="), std::string::npos);
  EXPECT_FALSE(add_filter(f, "status=sleeping"));
  EXPECT_FALSE(add_filter(f, "type=pod"));
  EXPECT_FALSE(add_filter(f, "novalue"));
  EXPECT_TRUE(f.values.empty());
}

}  // namespace
}  // namespace vessel::cli
