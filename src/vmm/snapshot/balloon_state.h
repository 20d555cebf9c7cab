// virtio-balloon's own state in a snapshot (docs/vmm/snapshot.md, section balloon; docs/vmm/
// balloon.md): its window, the target and the pages the driver holds, the statistics interval, and
// the statistics buffer the device holds (the driver sends figures again only once the device has
// given it back). The balloon's pages themselves are zeros in the memory file like any other.
#pragma once

#include <cstdint>
#include <optional>

#include "base/error.h"
#include "vmm/snapshot/byte_codec.h"

namespace vessel::vmm::snapshot {

struct BalloonState {
  uint64_t mmio_base = 0;
  uint32_t target_pages = 0;
  uint32_t actual_pages = 0;
  uint32_t stats_interval_s = 0;
  std::optional<uint16_t> stats_head;  // the held statistics chain
};

void encode_balloon(const BalloonState& s, ByteWriter& w);
Result<BalloonState> decode_balloon(ByteReader& r);

}  // namespace vessel::vmm::snapshot
