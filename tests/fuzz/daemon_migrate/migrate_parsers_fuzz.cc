// Fuzzes the parsers of live migration through vesseld (docs/daemon/migrate.md): the migrate
// request (a client's), the incoming request (the source vesseld's) and the destination's
// answer (the destination vesseld's), and a clustered instance's move (a client's). The first byte
// picks the parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/instances/migrate_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vessel::daemon;
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      if (auto r = parse_migrate_request(body)) (void)parse_migrate_request(to_json(*r).dump()).value();  // round trip
      break;
    case 1: (void)parse_incoming_request(body); break;
    case 2: (void)parse_incoming_answer(body); break;
    case 3:
      (void)parse_destination(body);
      if (auto node = parse_cluster_move_request(body); node && node->size() > 63) __builtin_trap();  // a DNS label
      break;
  }
  return 0;
}
