#include "daemon/network/host_ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "base/fd.h"

namespace vessel::daemon {

Result<void> check_host_port_free(const PortSpec& port) {
  int type = port.protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM;
  Fd s(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!s) return fail_errno("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port.host_port);
  if (!port.host_ip.empty() && ::inet_pton(AF_INET, port.host_ip.c_str(), &a.sin_addr) != 1)
    return fail(EINVAL, "host address '{}' is not an IPv4 address", port.host_ip);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
    int err = errno;
    std::string where = fmt::format("{}:{}/{}", port.host_ip.empty() ? "0.0.0.0" : port.host_ip, port.host_port, port.protocol);
    if (err == EADDRINUSE)
      return Unexpected(Error(EBUSY, fmt::format("host port {} is in use by a process on the host", where))
                            .with_hint("stop that process or publish another host port (-p OTHER:GUEST)"));
    if (err == EADDRNOTAVAIL)
      return fail(EINVAL, "host address {} is not an address of this host", port.host_ip);
    errno = err;
    return fail_errno("bind {}", where);
  }
  return {};
}

}  // namespace vessel::daemon
