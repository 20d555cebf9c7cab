// Fuzz target: a virtio-blk device driven through its virtio-mmio register window by a fuzzed
// sequence of register accesses (and pause/resume), over fuzzed guest RAM, on an in-memory disk.
// Records of 8 bytes: kind (0 read, 1 write, 2 pause, 3 resume), size (1/2/4/8), offset (u16),
// value (u32). The whole input is also the guest RAM image, so the rings the fuzzer programs
// point into bytes it controls. The device thread runs for real; the target ends by destroying
// the device, which joins it (no access to the RAM outlives the input).
#include <sys/uio.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "base/log.h"
#include "fuzz_memory.h"
#include "vmm/devices/virtio/virtio_devices.h"

using namespace vessel;
using namespace vessel::vmm;

namespace {

class MemBackend final : public block::BlockBackend {
 public:
  uint64_t size() const override { return data_.size(); }
  bool read_only() const override { return false; }
  Result<void> readv(uint64_t offset, std::span<const iovec> iov) override {
    for (const auto& v : iov) {
      fuzz_check(offset + v.iov_len <= data_.size());
      std::memcpy(v.iov_base, data_.data() + offset, v.iov_len);
      offset += v.iov_len;
    }
    return {};
  }
  Result<void> writev(uint64_t offset, std::span<const iovec> iov) override {
    for (const auto& v : iov) {
      fuzz_check(offset + v.iov_len <= data_.size());
      std::memcpy(data_.data() + offset, v.iov_base, v.iov_len);
      offset += v.iov_len;
    }
    return {};
  }
  Result<void> flush() override { return {}; }
  Result<void> discard(uint64_t offset, uint64_t len, bool zero) override {
    fuzz_check(offset + len <= data_.size());
    if (zero) std::memset(data_.data() + offset, 0, len);
    return {};
  }

 private:
  static void fuzz_check(bool ok) { virtio::fuzz::check(ok); }
  std::vector<uint8_t> data_ = std::vector<uint8_t>(64 * 1024);
};

struct NullIrq : InterruptLine {
  Result<void> trigger() override { return {}; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = (log::set_level(log::Level::Off), true);  // guest errors are expected here
  (void)quiet;
  const GuestMemory& mem = virtio::fuzz::fuzz_memory(data, size);
  virtio::BlockConfig cfg{.drive_id = "fuzz", .queue_size = 16, .max_in_flight = 4};
  auto dev = virtio::create_block_with_backend(cfg, std::make_unique<MemBackend>(),
                                               virtio::DeviceContext{&mem, std::make_shared<NullIrq>(), 0, {}});
  if (!dev) std::abort();
  for (size_t at = 0; at + 8 <= size && at < 8 * 256; at += 8) {
    uint8_t kind = data[at] & 3, size_code = data[at + 1] & 3;
    uint16_t offset;
    uint32_t value;
    std::memcpy(&offset, data + at + 2, 2);
    std::memcpy(&value, data + at + 4, 4);
    offset &= 0xfff;
    uint8_t buf[8] = {};
    std::memcpy(buf, &value, 4);
    size_t len = size_t(1) << size_code;
    switch (kind) {
      case 0: (*dev)->read(offset, {buf, len}); break;
      case 1: (*dev)->write(offset, {buf, len}); break;
      case 2: (void)(*dev)->pause(); break;
      case 3: (void)(*dev)->resume(); break;
    }
  }
  (void)(*dev)->metrics();
  return 0;  // the device (and its thread) goes away here
}
