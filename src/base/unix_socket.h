// Unix-domain sockets: listening on and connecting to a path, passing a file descriptor
// (SCM_RIGHTS), and sending a whole buffer. The one place that fills a sockaddr_un.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::unix_socket {

struct ListenOptions {
  mode_t mode = 0600;        // of the socket file
  int backlog = 128;
  bool nonblocking = false;  // SOCK_NONBLOCK on the listener (accepted sockets do not inherit it)
};

// A SOCK_STREAM socket bound to `path` and listening. A stale socket file there is replaced; one
// that a process listens on is EADDRINUSE, and any other kind of file is left alone and is an error.
Result<Fd> listen(const std::string& path, const ListenOptions& options = {});
// Connects a SOCK_STREAM socket to `path`; the error keeps connect(2)'s errno.
Result<Fd> connect(const std::string& path);

// Sends `fd` with SCM_RIGHTS and `payload` as the data (one NUL byte when empty: the kernel
// drops control messages without data).
Result<void> send_fd(int sock, int fd, std::string_view payload = {});
// What one recvmsg brought: its data and every fd that came with it (close-on-exec).
struct Received {
  std::string data;
  std::vector<Fd> fds;
};
// One recvmsg of at most `max_bytes` with room for `max_fds` fds. More fds than that is an EPROTO
// error (the kernel closes the ones that did not fit; those that did are closed with the result).
Result<Received> recv_with_fds(int sock, size_t max_bytes, size_t max_fds);
// Receives exactly one fd sent with SCM_RIGHTS (close-on-exec); the data that came with it is dropped.
Result<Fd> recv_fd(int sock);

// Sends all of `data` with MSG_NOSIGNAL (a closed peer is an EPIPE error, not SIGPIPE).
Result<void> send_all(int sock, std::string_view data);

}  // namespace vessel::unix_socket
