// The real vessel-agent binary (static), serving one connection on a socketpair (--serve-fd),
// driven by the host client: exec with pipes and with a terminal, exit statuses, stdin, signals,
// health, stats, copy-in and copy-out. No root, no VM: the vsock hop is the device's business
// (tests/unit/virtio/vsock_device_test.cc) and the whole path is tested by the linux-boot test.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/client/agent_client.h"
#include "agent_process.h"

namespace vessel::agent {
namespace {

using namespace std::chrono_literals;

ExecRequest cmd(std::vector<std::string> argv, bool tty = false) {
  ExecRequest r;
  r.argv = std::move(argv);
  r.tty = tty;
  return r;
}

struct Ran {
  std::string out, err;
  ExitStatus status;
};
Ran run(ExecRequest req, std::string input = {}, bool close_stdin = true) {
  AgentProcess a;
  EXPECT_TRUE(a.conn->send_request(req));
  auto reply = a.conn->read_reply(5s);
  EXPECT_TRUE(reply) << reply.error().to_string();
  EXPECT_TRUE(reply->body.contains("pid"));
  // A command that ended first has closed the stream: stdin may then fail, its status still comes.
  if (!input.empty()) (void)a.conn->send_stdin(input);
  if (close_stdin) (void)a.conn->send_stdin({});
  Ran r;
  auto st = exec_wait(*a.conn, [&](Stream s, std::string_view b) { (s == Stream::Stdout ? r.out : r.err) += b; }, 10s);
  EXPECT_TRUE(st) << st.error().to_string();
  if (st) r.status = *st;
  return r;
}

TEST(AgentSession, ExecReturnsOutputBothStreamsAndTheExitStatus) {
  auto r = run(cmd({"sh", "-c", "echo out; echo err >&2; exit 3"}));
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.status.code, 3);
}

TEST(AgentSession, StdinIsPipedThroughExactly) {
  std::string input;
  for (int i = 0; i < 200000; ++i) input += char('a' + i % 26);
  auto r = run(cmd({"cat"}), input);
  EXPECT_EQ(r.out, input);
  EXPECT_EQ(r.status.code, 0);
}

TEST(AgentSession, MissingProgramIs127AndASignalIsReported) {
  auto r = run(cmd({"/nonexistent/program"}));
  EXPECT_EQ(r.status.code, 127);
  EXPECT_NE(r.err.find("/nonexistent/program"), std::string::npos);
  r = run(cmd({"sh", "-c", "kill -9 $$"}));
  EXPECT_EQ(r.status.signal, 9);
}

TEST(AgentSession, EnvAndCwdAreTheRequests) {
  ExecRequest req = cmd({"sh", "-c", "echo $GREETING; pwd"});
  req.env = {"GREETING=hi", "PATH=/usr/bin:/bin"};
  req.cwd = "/tmp";
  auto r = run(req);
  EXPECT_EQ(r.out, "hi\n/tmp\n");
}

TEST(AgentSession, TtyGivesTheCommandATerminalOfTheAskedSize) {
  ExecRequest req = cmd({"sh", "-c", "test -t 0 && echo tty; stty size"}, true);
  req.rows = 33;
  req.cols = 101;
  auto r = run(req, {}, false);
  EXPECT_NE(r.out.find("tty"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("33 101"), std::string::npos) << r.out;
  EXPECT_EQ(r.status.code, 0);
}

TEST(AgentSession, ASignalMessageReachesTheCommand) {
  AgentProcess a;
  ASSERT_TRUE(a.conn->send_request(cmd({"sleep", "30"})));
  ASSERT_TRUE(a.conn->read_reply(5s));
  ASSERT_TRUE(a.conn->send_exec_control(SignalMessage{SIGTERM}));
  auto st = exec_wait(*a.conn, [](Stream, std::string_view) {}, 10s);
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(st->signal, SIGTERM);
}

TEST(AgentSession, HealthAndStats) {
  {
    AgentProcess a;
    ASSERT_TRUE(a.conn->send_request(HealthRequest{}));
    auto r = a.conn->read_reply(5s);
    ASSERT_TRUE(r);
    auto h = parse_health(r->body);
    ASSERT_TRUE(h) << h.error();
    EXPECT_GT(h->uptime_s, 0);
  }
  AgentProcess a;
  ASSERT_TRUE(a.conn->send_request(StatsRequest{}));
  auto r = a.conn->read_reply(5s);
  ASSERT_TRUE(r);
  auto s = parse_stats(r->body);
  ASSERT_TRUE(s) << s.error();
  EXPECT_GT(s->mem_total_kb, 0u);
  EXPECT_GE(s->mem_total_kb, s->mem_available_kb);
  EXPECT_FALSE(s->filesystems.empty());
}

TEST(AgentSession, CopyInAndOutAreByteExact) {
  char tmpl[] = "/tmp/agent-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl, path = dir + "/file";
  std::string data;
  for (int i = 0; i < 150000; ++i) data += char(i * 7);
  {
    AgentProcess a;
    ASSERT_TRUE(a.conn->send_request(CopyInRequest{path, 0640}));
    ASSERT_TRUE(a.conn->read_reply(5s));
    ASSERT_TRUE(a.conn->send_stdin(data));
    ASSERT_TRUE(a.conn->send_stdin({}));
    auto r = a.conn->read_reply(5s);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->body["bytes"], data.size());
  }
  EXPECT_EQ(std::filesystem::file_size(path), data.size());
  EXPECT_EQ(std::filesystem::status(path).permissions(), std::filesystem::perms(0640));
  AgentProcess a;
  ASSERT_TRUE(a.conn->send_request(CopyOutRequest{path}));
  auto r = a.conn->read_reply(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(parse_file_info(r->body)->size, data.size());
  std::string got;
  for (;;) {
    auto f = a.conn->next_frame(5s);
    ASSERT_TRUE(f && *f);
    if ((*f)->payload.empty()) break;
    got += (*f)->payload;
  }
  EXPECT_EQ(got, data);
  std::filesystem::remove_all(dir);
}

TEST(AgentSession, ABadRequestGetsAnErrorReply) {
  AgentProcess a;
  ASSERT_TRUE(::write(a.conn->fd(), control_frame(R"({"op":"format-disk"})").data(), 29) > 0);
  auto r = a.conn->read_reply(5s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("unknown operation"), std::string::npos) << r.error().to_string();
}

}  // namespace
}  // namespace vessel::agent
