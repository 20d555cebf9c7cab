// Fuzz target: the snapshot state file parser (src/vmm/snapshot/machine_state.h, decode()), which
// reads whatever file PUT /snapshot/load names. Checked: it never crashes; what it accepts has as
// many vCPU states as its vcpu_count and encodes back to a file that decodes to the same sizes.
// The corpus starts from the fixture tests/unit/vmm/data/snapshot-v1.state (and that fixture with
// a virtio-net and a virtio-vsock device and their sections added: fixture_with_net_and_vsock); since the CRC64 guards
// everything, half of the inputs get their checksum fixed up so that the fuzzer reaches the
// sections.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "vmm/snapshot/crc64.h"
#include "vmm/snapshot/machine_state.h"

using namespace vessel::vmm::snapshot;

namespace {
void fuzz_check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "snapshot_fuzz: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<uint8_t> file(data + 1, data + size);
  if ((data[0] & 1) && file.size() >= 8) {
    uint64_t crc = crc64(std::span<const uint8_t>(file.data(), file.size() - 8));
    std::memcpy(file.data() + file.size() - 8, &crc, 8);
  }
  auto state = decode(file);
  if (!state) return 0;
  fuzz_check(state->vcpus.size() == state->vcpu_count, "vcpu sections differ from vcpu_count");
  auto again = decode(encode(*state));
  fuzz_check(again.has_value(), "a decoded state does not decode after encoding");
  fuzz_check(again->vcpus.size() == state->vcpus.size() && again->virtio.size() == state->virtio.size() &&
                 again->config == state->config && again->net.size() == state->net.size() &&
                 again->vsock.has_value() == state->vsock.has_value(),
             "encode/decode changed the state");
  return 0;
}
