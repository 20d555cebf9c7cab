// Fuzz target: virtio-net's whole request path (NetLogic::process) on fuzzed rings, with a
// SOCK_SEQPACKET socketpair as the tap: the tx queue's chains are parsed and written to the
// "tap", then one frame from the input is offered to the rx queue (with or without mergeable
// buffers). Whatever reaches the tap must be a frame the parser vouched for (header + at least
// an Ethernet header, at most 65562 bytes, only negotiated offloads); process() never crashes,
// never completes more chains than its budget allows, and a broken ring is a fault, not a crash.
// Input: u32 negotiated features (low half), u16 rx frame length, u16 flags (bit 0: indirect),
// then guest RAM. rx queue: 16 entries, rings at 0x400/0x800/0xa00; tx queue: 16 entries at
// 0x1000/0x1200/0x1400.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_memory.h"
#include "vmm/devices/virtio/net/tap.h"
#include "vmm/devices/virtio/net/virtio_net.h"

using namespace vessel;
using namespace vessel::vmm;
using namespace vessel::vmm::virtio;
using namespace vessel::vmm::virtio::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint32_t features;
  uint16_t rx_len, flags;
  std::memcpy(&features, data, 4);
  std::memcpy(&rx_len, data + 4, 2);
  std::memcpy(&flags, data + 6, 2);
  const GuestMemory& mem = fuzz::fuzz_memory(data, size);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  Fd peer(sv[1]);
  NetConfig config;
  config.iface_id = "fuzz";
  config.host_dev_name = "fuzz0";
  NetLogic logic(config, Tap::adopt(Fd(sv[0]), "fuzz0"), &mem);
  uint64_t negotiated = (kFeatureVersion1 | features) & logic.features();
  logic.activate(negotiated);
  bool indirect = flags & 1;
  Virtqueue rx(&mem, QueueLayout{16, 0x400, 0x800, 0xa00}, indirect, negotiated & kFeatureEventIdx);
  Virtqueue tx(&mem, QueueLayout{16, 0x1000, 0x1200, 0x1400}, indirect,
               negotiated & kFeatureEventIdx);
  DeviceCounters counters;

  auto done = logic.process(kTxQueue, tx, kBudget, counters);
  if (done) fuzz::check(*done <= kBudget);
  std::vector<uint8_t> frame(70000);
  for (;;) {
    ssize_t n = ::read(peer.get(), frame.data(), frame.size());
    if (n < 0) break;
    fuzz::check(n >= ssize_t(kHeaderSize + kEthHeaderSize) && n <= ssize_t(kMaxFrameWithHeader));
    NetHeader h;
    std::memcpy(&h, frame.data(), kHeaderSize);
    fuzz::check(h.num_buffers == 0);
    if (h.flags & kHdrFlagNeedsCsum) fuzz::check(negotiated & kFeatureCsum);
    if (h.gso_type != kGsoNone)
      fuzz::check(negotiated & (kFeatureHostTso4 | kFeatureHostTso6 | kFeatureHostUfo));
  }

  // One frame from the input (its first bytes as the header) to the rx queue.
  size_t len = std::min<size_t>(rx_len, size);
  if (len > 0 && ::write(peer.get(), data, len) < 0) return 0;
  done = logic.process(kRxQueue, rx, kBudget, counters);
  if (done) fuzz::check(*done <= 16 + kBudget);
  (void)logic.retry_at();
  (void)logic.backend_wanted();
  json::Json m;
  logic.add_metrics(m);
  return 0;
}
