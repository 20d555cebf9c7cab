#include "vmm/snapshot/balloon_state.h"

namespace vessel::vmm::snapshot {

void encode_balloon(const BalloonState& s, ByteWriter& w) {
  w.put(s.mmio_base);
  w.put(s.target_pages);
  w.put(s.actual_pages);
  w.put(s.stats_interval_s);
  w.put(static_cast<uint8_t>(s.stats_head.has_value()));
  w.put(s.stats_head.value_or(0));
}

Result<BalloonState> decode_balloon(ByteReader& r) {
  BalloonState s;
  s.mmio_base = TRY(r.get<uint64_t>());
  s.target_pages = TRY(r.get<uint32_t>());
  s.actual_pages = TRY(r.get<uint32_t>());
  s.stats_interval_s = TRY(r.get<uint32_t>());
  uint8_t held = TRY(r.get<uint8_t>());
  uint16_t head = TRY(r.get<uint16_t>());
  if (held > 1) return fail(EINVAL, "balloon: stats_head flag {} (0 or 1)", held);
  if (held) s.stats_head = head;
  return s;
}

}  // namespace vessel::vmm::snapshot
