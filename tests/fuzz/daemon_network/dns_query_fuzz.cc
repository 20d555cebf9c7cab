// Fuzzes what a container can send vesseld's DNS server (src/daemon/network/dns_message.h), and
// the other network parsers a client reaches: a -p port string, a network request body. The
// first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "daemon/network/dns_message.h"
#include "daemon/network/dns_server.h"
#include "daemon/network/network_spec.h"
#include "daemon/spec/port_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vessel::daemon;
  if (size == 0) return 0;
  std::span<const uint8_t> rest(data + 1, size - 1);
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      uint16_t id = 0;
      auto q = parse_dns_query(rest, &id);
      if (q) {
        // Every answer is built from the parsed query only, and stays within a UDP message.
        auto a = dns_local_answer(*q, Ipv4{0x0a000002});
        if (!a || a->size() > kDnsMaxMessage + 16 || (*a)[0] != rest[0] || (*a)[1] != rest[1]) __builtin_trap();
        if (q->name.size() > 255) __builtin_trap();
      }
      break;
    }
    case 1: (void)parse_port_flag(text); break;
    case 2: (void)parse_network_request(text); break;
  }
  return 0;
}
