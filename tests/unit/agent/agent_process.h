// vessel-agent started on one end of a socketpair, the connection to it on the other: the agent's
// tests talk to the real program without a VM.
#pragma once

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include <gtest/gtest.h>

#include "agent/client/agent_client.h"
#include "base/fd.h"

namespace vessel::agent {

struct AgentProcess {
  pid_t pid = -1;
  std::optional<AgentConnection> conn;
  AgentProcess() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pid = ::fork();
    if (pid == 0) {
      ::dup2(sv[1], 3);  // dup2 clears close-on-exec
      ::execl(VESSEL_AGENT_BINARY, "vessel-agent", "--serve-fd", "3", nullptr);
      ::_exit(127);
    }
    ::close(sv[1]);
    conn.emplace(Fd(sv[0]));
  }
  ~AgentProcess() {
    conn.reset();  // the agent ends when its connection closes
    if (pid > 0) ::waitpid(pid, nullptr, 0);
  }
};

}  // namespace vessel::agent
