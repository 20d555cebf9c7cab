// Fuzzes every parser of the daemon API's request bodies: the instance spec and the stop, exec
// image, checkpoint, snapshot and volume requests, and kill's signal. The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/api/requests.h"
#include "daemon/api/snapshot_request.h"
#include "daemon/instances/volumes.h"
#include "daemon/spec/spec.h"
#include "runtime/container.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0: {
      auto spec = vessel::daemon::parse_spec_text(body);
      if (spec) (void)vessel::daemon::parse_spec(vessel::daemon::to_json(*spec)).value();  // round trip must hold
      break;
    }
    case 1:  // the small option bodies of stop, checkpoint and snapshot create
      (void)vessel::daemon::parse_stop_request(body);
      (void)vessel::daemon::parse_checkpoint_request(body);
      (void)vessel::daemon::parse_snapshot_request(std::string(body));
      break;
    case 2: (void)vessel::daemon::parse_exec_request(body); break;
    case 3: (void)vessel::daemon::parse_image_request(body); break;
    case 4: (void)vessel::daemon::parse_volume_request(body); break;
    case 5: (void)vessel::runtime::parse_signal(std::string(body)); break;  // POST .../kill?signal=
    default: break;
  }
  return 0;
}
