// Messages between the runtime and the processes it forks while creating a container (a
// SOCK_SEQPACKET pair: one message per send, EOF when every child end is gone).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "base/error.h"

namespace vessel::runtime {

enum class SyncType : uint32_t {
  Go = 1,         // runtime -> child: cgroup joined, carry on
  UsernsReady,    // child -> runtime: write my uid/gid maps
  UsernsDone,     // runtime -> child
  Pid,            // child -> runtime: value = pid of the container process
  Hooks,          // init -> runtime: run prestart and createRuntime hooks now
  HooksDone,      // runtime -> init
  Ready,          // init -> runtime: waiting for `start`
  Error,          // child -> runtime: text says why
};

struct SyncMsg {
  SyncType type = SyncType::Go;
  int32_t value = 0;
  int32_t errnum = 0;
  char text[3000] = {};
};

inline bool sync_send(int fd, SyncType type, int32_t value = 0, const std::string& text = {}, int errnum = 0) {
  SyncMsg m;
  m.type = type;
  m.value = value;
  m.errnum = errnum;
  strncpy(m.text, text.c_str(), sizeof m.text - 1);
  size_t len = offsetof(SyncMsg, text) + std::min(text.size() + 1, sizeof m.text);
  for (;;) {
    ssize_t n = send(fd, &m, len, MSG_NOSIGNAL);
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

// Returns false on EOF or error.
inline bool sync_recv(int fd, SyncMsg* m) {
  for (;;) {
    *m = SyncMsg{};
    ssize_t n = recv(fd, m, sizeof *m, 0);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

inline Result<void> sync_expect(int fd, SyncType type) {
  SyncMsg m;
  if (!sync_recv(fd, &m)) return fail(EPIPE, "the runtime went away");
  if (m.type != type) return fail(EPROTO, "unexpected sync message {}", static_cast<int>(m.type));
  return {};
}

}  // namespace vessel::runtime
