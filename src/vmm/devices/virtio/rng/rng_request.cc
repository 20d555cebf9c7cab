#include "vmm/devices/virtio/rng/rng_request.h"

#include <sys/random.h>

#include <algorithm>

namespace vessel::vmm::virtio::rng {

Result<RngRequest> parse_request(const GuestMemory& memory, const DescriptorChain& chain) {
  RngRequest req;
  for (const auto& d : chain.descriptors) {
    if (!d.device_writes) continue;
    uint64_t n = std::min<uint64_t>(d.len, kMaxBytesPerRequest - req.len);
    if (n == 0) continue;  // an empty buffer, or the cap reached
    auto span = memory.slice(d.addr, n);
    if (!span)
      return fail(EFAULT, "virtio-rng: buffer {:#x}+{} is not inside guest RAM", d.addr, n);
    req.buffers.push_back({span->data(), n});
    req.len += n;
  }
  return req;
}

Result<void> fill_request(const RngRequest& request) {
  for (const auto& b : request.buffers) {
    auto* p = static_cast<uint8_t*>(b.iov_base);
    size_t left = b.iov_len;
    while (left > 0) {
      ssize_t n = ::getrandom(p, left, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_errno("getrandom");
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  return {};
}

}  // namespace vessel::vmm::virtio::rng
