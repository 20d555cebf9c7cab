// A published port (`-p [IP:]HOST:GUEST[/tcp|udp]`, Docker's syntax): connections to the host's
// HOST port (on IP, or on every host address) reach the instance's GUEST port.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

struct PortSpec {
  std::string host_ip;  // empty: all of the host's addresses (0.0.0.0)
  uint16_t host_port = 0;
  uint16_t guest_port = 0;
  std::string protocol = "tcp";  // "tcp" | "udp"
  friend bool operator==(const PortSpec&, const PortSpec&) = default;
};

// "8080:80", "127.0.0.1:8080:80/udp" (the CLI's form).
Result<PortSpec> parse_port_flag(std::string_view text);
// {"host_ip": "127.0.0.1", "host_port": 8080, "guest_port": 80, "protocol": "tcp"}; the list is
// refused when two entries claim one host port.
Result<std::vector<PortSpec>> parse_ports(const json::Json& j);
json::Json to_json(const PortSpec& p);
// Docker's `docker port` line: "80/tcp -> 0.0.0.0:8080".
std::string port_line(const PortSpec& p);
// Do the two claim the same host port (same protocol, and one binds all addresses or both one)?
bool ports_clash(const PortSpec& a, const PortSpec& b);

}  // namespace vessel::daemon
