// vessel-agent: a small static program in the guest (docs/vmm/agent.md). Listens on vsock port
// 1024 of any CID and serves each host connection in a process of its own: one request per
// connection (exec, health, stats, shutdown, copy-in, copy-out).
//
//   vessel-agent                 listen on vsock port 1024 (what /init starts)
//   vessel-agent --port N        another port
//   vessel-agent --serve-fd FD   serve the one connection on FD, then exit (tests)
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "agent/handlers.h"

namespace {

int listen_vsock(unsigned port) {
  // /init loads the vsock modules just before starting us: give them a moment.
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = ::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      sockaddr_vm addr{};
      addr.svm_family = AF_VSOCK;
      addr.svm_cid = VMADDR_CID_ANY;
      addr.svm_port = port;
      if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 16) == 0) return fd;
      ::close(fd);
    }
    ::usleep(200 * 1000);
  }
  std::fprintf(stderr, "vessel-agent: cannot listen on vsock port %u: %s\n", port, std::strerror(errno));
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  ::setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 0);
  unsigned port = vessel::agent::kAgentPort;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--serve-fd" && i + 1 < argc) {
      vessel::agent::Channel ch(std::atoi(argv[++i]));
      vessel::agent::serve_connection(ch);
      return 0;
    }
    if (a == "--version" || a == "-V") {
      std::printf("vessel-agent version %s\n", VESSEL_VERSION);
      return 0;
    }
    if (a == "--port" && i + 1 < argc) {
      port = unsigned(std::strtoul(argv[++i], nullptr, 10));
      continue;
    }
    std::fprintf(stderr, "usage: vessel-agent [--port N] [--serve-fd FD]\n");
    return 2;
  }
  int listener = listen_vsock(port);
  if (listener < 0) return 1;
  std::fprintf(stderr, "vessel-agent: listening on vsock port %u\n", port);
  signal(SIGCHLD, SIG_IGN);  // sessions are reaped by the kernel
  for (;;) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EINTR) ::usleep(10 * 1000);
      continue;
    }
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(listener);
      signal(SIGCHLD, SIG_DFL);  // the session waits for its command
      vessel::agent::Channel ch(fd);
      vessel::agent::serve_connection(ch);
      ::_exit(0);
    }
    ::close(fd);
  }
}
