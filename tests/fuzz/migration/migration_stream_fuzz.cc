// Fuzz target: the receiving side of a live migration (src/vmm/migration/receiver.h), which reads
// whatever a sender (or anyone who reaches the receiver's socket) writes. The input is the whole
// stream; an input that starts with 'T' is the stream without it, for a receiver that expects
// the token of 32 bytes 0x54 ('T') first. Checked: it never crashes; guest RAM (at most 1 MiB here) is written only inside its
// bounds (guard bytes on both sides keep their value; every zeroed range lies inside); what it
// accepts has had round 0 before any page, and a state within the bounds.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "vmm/migration/receiver.h"

using namespace vessel;
using namespace vessel::vmm::migration;

namespace {

constexpr uint64_t kMaxFuzzRam = 1 << 20;
constexpr size_t kGuard = 4096;
constexpr uint8_t kGuardByte = 0xa5;

void fuzz_check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "migration_stream_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  BufferChannel channel({data, size});
  std::vector<uint8_t> storage;
  uint64_t ram_size = 0;
  AllocateRam allocate = [&](const Hello& hello) -> Result<RamTarget> {
    if (hello.mem_size > kMaxFuzzRam) return fail(ENOMEM, "the fuzz target gives at most 1 MiB");
    ram_size = hello.mem_size;
    storage.assign(kGuard + ram_size + kGuard, kGuardByte);
    std::memset(storage.data() + kGuard, 0, ram_size);
    return RamTarget{{storage.data() + kGuard, ram_size}, [&](uint64_t offset, uint64_t length) {
                       fuzz_check(offset <= ram_size && length <= ram_size - offset, "zeroed outside RAM");
                       std::memset(storage.data() + kGuard + offset, 0, length);
                     }};
  };
  Result<Received> received = fail(EINVAL, "not read");
  if (size > 0 && data[0] == 'T') {
    Token expected;
    expected.bytes.fill('T');
    BufferChannel after_t({data + 1, size - 1});
    if (auto opened = open_stream(after_t, &expected)) received = receive_opened(after_t, allocate);
  } else {
    received = receive(channel, allocate);
  }
  for (size_t i = 0; i < storage.size() && ram_size; ++i) {
    if (i == kGuard) i += ram_size;
    if (i < storage.size()) fuzz_check(storage[i] == kGuardByte, "a guard byte beside guest RAM changed");
  }
  if (!received) return 0;
  fuzz_check(received->stats.rounds >= 1, "accepted a stream without round 0");
  fuzz_check(received->state.size() <= kMaxStateBytes, "accepted an oversized state");
  fuzz_check(received->hello.mem_size == ram_size, "RAM differs from the Hello");
  fuzz_check(received->stats.data_pages * kPageSize <= received->stats.bytes, "more page data than the stream held");
  return 0;
}
