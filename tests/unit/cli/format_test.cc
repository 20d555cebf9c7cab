#include <gtest/gtest.h>
#include <stdio.h>

#include "base/process.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/instance_list.h"

namespace vessel::cli {
namespace {

TEST(Format, TableAlignsColumns) {
  EXPECT_EQ(render_table({"NAME", "STATE"}, {{"web", "running"}, {"database", "stopped"}}),
            "NAME      STATE\nweb       running\ndatabase  stopped\n");
}

TEST(Format, InstancesTable) {
  auto list = json::Json::parse(R"([{"name":"a","type":"vm","state":"running","kernel":"/k","created_at":1000,
                                     "started_at":1900,"ports":[{"host_port":8080,"guest_port":80,"protocol":"tcp"}]}])");
  auto t = instances_table(list, 2000);
  EXPECT_EQ(t, "NAME  TYPE  IMAGE  CREATED         STATUS             PORTS\n"
               "a     vm    /k     16 minutes ago  Up About a minute  0.0.0.0:8080->80/tcp\n") << t;
}

TEST(Format, MemorySizes) {
  EXPECT_EQ(*parse_memory_mib("256"), 256u);
  EXPECT_EQ(*parse_memory_mib("512M"), 512u);
  EXPECT_EQ(*parse_memory_mib("2G"), 2048u);
  EXPECT_FALSE(parse_memory_mib("lots"));
  EXPECT_FALSE(parse_memory_mib("5T"));
  EXPECT_FALSE(parse_memory_mib("99999999999999G"));
  EXPECT_FALSE(parse_memory_mib(""));
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(12), "12 B");
}

TEST(Format, KeyValue) {
  auto kv = parse_key_value("A=b=c", "--env");
  ASSERT_TRUE(kv);
  EXPECT_EQ(kv->first, "A");
  EXPECT_EQ(kv->second, "b=c");
  EXPECT_FALSE(parse_key_value("novalue", "--env"));
  EXPECT_FALSE(parse_key_value("=x", "--env"));
}

TEST(Format, ProgressBar) {
  EXPECT_EQ(progress_bar(1, 2, "unpack", 10), "[#####.....]  50% unpack 1/2");
  EXPECT_EQ(progress_bar(0, 0, "read", 4), "[....]   0% read 0/0");
}

TEST(Client, DaemonErrorsKeepMessageAndHint) {
  auto e = error_from_response(409, R"({"error":"cannot pause: instance is paused","errno":16,"hint":"it is already paused","state":"paused"})");
  EXPECT_EQ(e.message(), "cannot pause: instance is paused");
  EXPECT_EQ(e.hint(), "it is already paused");
  auto odd = error_from_response(502, "<html>bad gateway</html>");
  EXPECT_NE(odd.message().find("HTTP 502"), std::string::npos);
  EXPECT_EQ(escape_segment("a/b c"), "a%2Fb%20c");
}

TEST(Client, UnreachableDaemonSaysWhatToDo) {
  Client c("/nonexistent/vessel.sock");
  auto r = c.call("GET", "/v1/instances");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("cannot reach vesseld"), std::string::npos);
  EXPECT_NE(r.error().hint().find("is vesseld running"), std::string::npos);
}

TEST(Completion, IsValidBash) {
  std::string path = "/tmp/vessel-completion-test.bash";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(bash_completion(), f);
  std::fclose(f);
  auto r = run_capture({"bash", "-n", path});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->status.success());
  std::remove(path.c_str());
  EXPECT_NE(std::string(bash_completion()).find("complete -F _vessel vessel"), std::string::npos);
}

// Names go into request paths: anything but [A-Za-z0-9_.-] is percent-encoded, so a name cannot
// add a path segment, a query or a fragment to the request the CLI sends.
TEST(Client, InstanceNamesAreEscapedInRequestPaths) {
  EXPECT_EQ(escape_segment("web-1_a.b"), "web-1_a.b");
  EXPECT_EQ(escape_segment("../trust"), "..%2Ftrust");
  EXPECT_EQ(escape_segment("a/b?force=1#x"), "a%2Fb%3Fforce%3D1%23x");
  EXPECT_EQ(escape_segment("sp ace%"), "sp%20ace%25");
  EXPECT_EQ(escape_segment(std::string("nul\0\xff", 5)), "nul%00%FF");
}

}  // namespace
}  // namespace vessel::cli
