// virtio-rng requests (virtio 1.2, section 5.4.6): parse, then process. parse_request() turns a
// validated descriptor chain into the host views of its device-writable buffers, at most
// kMaxBytesPerRequest in all, every one checked against guest RAM; only then does the device fill
// them (fill_request). Pure function of guest memory: the fuzz target calls it.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "base/error.h"
#include "vmm/devices/virtio/queue/virtqueue.h"

namespace vessel::vmm::virtio::rng {

inline constexpr uint64_t kMaxBytesPerRequest = 64 * 1024;  // bounds the work of one request

struct RngRequest {
  std::vector<iovec> buffers;  // host views of guest buffers (checked ranges of guest RAM)
  uint64_t len = 0;            // their total: what the device writes and reports as used
};

// The chain's device-writable buffers, in order, cut at kMaxBytesPerRequest; device-readable
// ones carry nothing for this device and are skipped. A chain with no writable byte is a request
// of length 0 (answered with 0). EFAULT for a buffer outside guest RAM.
Result<RngRequest> parse_request(const GuestMemory& memory, const DescriptorChain& chain);

// Fills every buffer from getrandom(2).
Result<void> fill_request(const RngRequest& request);

}  // namespace vessel::vmm::virtio::rng
