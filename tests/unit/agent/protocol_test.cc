// vessel-agent's frames and messages: the bounded frame parser in any chunking, requests, and the
// replies a hostile guest could send the host.
#include <gtest/gtest.h>

#include "agent/client/agent_client.h"
#include "agent/protocol/frame.h"
#include "agent/protocol/messages.h"

namespace vessel::agent {
namespace {

TEST(AgentFrames, RoundTripInAnyChunking) {
  std::string wire = control_frame(R"({"op":"health"})") + data_frame(Stream::Stdout, "hello") +
                     data_frame(Stream::Stderr, "") + data_frame(Stream::Stdin, std::string(70000 / 2, 'x'));
  for (size_t chunk : {size_t(1), size_t(3), size_t(7), wire.size()}) {
    FrameParser p;
    std::vector<Frame> got;
    for (size_t off = 0; off < wire.size(); off += chunk) {
      p.feed(std::string_view(wire).substr(off, chunk));
      while (true) {
        auto f = p.next();
        ASSERT_TRUE(f) << f.error();
        if (!*f) break;
        got.push_back(**f);
      }
    }
    ASSERT_EQ(got.size(), 4u) << chunk;
    EXPECT_EQ(got[0].kind, FrameKind::Control);
    EXPECT_EQ(got[1].payload, "hello");
    EXPECT_EQ(got[1].stream, 1);
    EXPECT_TRUE(got[2].payload.empty());
    EXPECT_EQ(got[3].payload.size(), 35000u);
  }
}

TEST(AgentFrames, BadHeadersAreRefusedBeforeAnyPayloadIsKept) {
  auto error_of = [](std::string header) {
    FrameParser p;
    p.feed(header);
    auto f = p.next();
    return f ? std::string() : f.error();
  };
  std::string big("\x01\x00\x01\x00\x01\x00\x00\x00", 8);  // 65537 bytes
  EXPECT_NE(error_of(big).find("65537"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x00\x00\x00\x00\x03\x00\x00\x00", 8)).find("kind"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x00\x00\x00\x00\x02\x03\x00\x00", 8)).find("stream"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x00\x00\x00\x00\x01\x01\x00\x00", 8)).find("control"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x00\x00\x00\x00\x01\x00\x01\x00", 8)).find("reserved"), std::string::npos);
}

TEST(AgentMessages, RequestsAreCheckedFieldByField) {
  auto r = parse_request(R"({"op":"exec","argv":["sh","-c","echo hi"],"env":["A=1"],"cwd":"/tmp","tty":true,"rows":50,"cols":132})");
  ASSERT_TRUE(r) << r.error();
  auto& e = std::get<ExecRequest>(*r);
  EXPECT_EQ(e.argv.size(), 3u);
  EXPECT_TRUE(e.tty);
  EXPECT_EQ(e.rows, 50);
  auto again = parse_request(to_json(*r));
  ASSERT_TRUE(again);
  EXPECT_EQ(std::get<ExecRequest>(*again).cwd, "/tmp");
  for (const char* bad : {R"({"op":"exec"})", R"({"op":"exec","argv":[]})", R"({"op":"exec","argv":[1]})",
                          R"({"op":"exec","argv":["x"],"env":["NOEQUALS"]})", R"({"op":"exec","argv":["x"],"cwd":"rel"})",
                          R"({"op":"exec","argv":["x"],"rows":70000})", R"({"op":"copy-in","path":"x"})",
                          R"({"op":"copy-in","path":"/x","mode":65536})", R"({"op":"reboot"})", R"([1])", "not json",
                          R"({"op":[[[[[[[[[[[[1]]]]]]]]]]]]})"})
    EXPECT_FALSE(parse_request(bad)) << bad;
  EXPECT_TRUE(std::holds_alternative<StatsRequest>(*parse_request(R"({"op":"stats"})")));
}

TEST(AgentMessages, HostileRepliesAreErrorsNotCrashes) {
  EXPECT_FALSE(parse_reply(R"({"ok":"yes"})"));
  EXPECT_FALSE(parse_reply(R"({"ok":false})"));
  auto r = parse_reply(R"({"ok":false,"error":")" + std::string(10000, 'e') + R"("})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error.size(), 4096u);
  EXPECT_FALSE(parse_exit(R"({"op":"exit","exit_code":256})"));
  EXPECT_FALSE(parse_exit(R"({"op":"exit","exit_code":-1})"));
  EXPECT_FALSE(parse_exit(R"({"op":"exit"})"));
  EXPECT_EQ(parse_exit(R"({"op":"exit","signal":9})")->signal, 9);
  EXPECT_FALSE(parse_stats(Json::parse(R"({"memory":{"total_kb":1},"load":[0,0,0],"filesystems":[]})")));
  EXPECT_FALSE(parse_stats(Json::parse(R"({"memory":{"total_kb":1,"free_kb":1,"available_kb":1},"load":[0,0],"filesystems":[]})")));
  Json many = Json::parse(R"({"memory":{"total_kb":1,"free_kb":1,"available_kb":1},"load":[0,0,0],"filesystems":[]})");
  for (int i = 0; i < 65; ++i) many["filesystems"].push_back({{"path", "/"}, {"total_bytes", 1}, {"free_bytes", 1}, {"avail_bytes", 1}});
  EXPECT_FALSE(parse_stats(many));
  EXPECT_FALSE(parse_health(Json::parse(R"({"uptime_s":-1})")));
  EXPECT_FALSE(parse_file_info(Json::parse(R"({"size":1})")));
}

TEST(AgentClient, HandshakeAnswerLine) {
  EXPECT_EQ(parse_ok_line("OK 1073741824\n"), 1073741824u);
  EXPECT_FALSE(parse_ok_line("OK 1073741824"));
  EXPECT_FALSE(parse_ok_line("OK x\n"));
  EXPECT_FALSE(parse_ok_line("NO 5\n"));
  EXPECT_FALSE(parse_ok_line("OK 99999999999\n"));
}

}  // namespace
}  // namespace vessel::agent
