#include "vmm/snapshot/vsock_state.h"

namespace vessel::vmm::snapshot {

void encode_vsock(const VsockState& s, ByteWriter& w) {
  w.put(s.mmio_base);
  w.put(s.guest_cid);
  w.put_string(s.uds_path);
}

Result<VsockState> decode_vsock(ByteReader& r) {
  VsockState s;
  s.mmio_base = TRY(r.get<uint64_t>());
  s.guest_cid = TRY(r.get<uint64_t>());
  if (s.guest_cid < 3 || s.guest_cid > UINT32_MAX)
    return fail(EINVAL, "vsock: guest_cid {} (3 to 2^32-1)", s.guest_cid);
  s.uds_path = TRY(r.get_string(107));
  if (s.uds_path.empty()) return fail(EINVAL, "vsock: an empty uds_path");
  return s;
}

}  // namespace vessel::vmm::snapshot
