#include "vmm/bus/bus.h"

#include <cstring>

namespace vessel::vmm {

Result<void> Bus::insert(std::shared_ptr<BusDevice> device, uint64_t base, uint64_t len) {
  if (len == 0 || base + len < base) return fail(EINVAL, "bad bus range {:#x}+{:#x}", base, len);
  auto next = ranges_.lower_bound(base);
  if (next != ranges_.end() && next->first < base + len)
    return fail(EEXIST, "bus range {:#x}+{:#x} overlaps {:#x}", base, len, next->first);
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.len > base)
      return fail(EEXIST, "bus range {:#x}+{:#x} overlaps {:#x}", base, len, prev->first);
  }
  ranges_.emplace(base, Range{len, std::move(device)});
  return {};
}

const Bus::Range* Bus::find(uint64_t addr, uint64_t* base) const {
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return nullptr;
  --it;
  if (addr - it->first >= it->second.len) return nullptr;
  *base = it->first;
  return &it->second;
}

bool Bus::read(uint64_t addr, std::span<uint8_t> data) const {
  uint64_t base;
  const Range* r = find(addr, &base);
  if (r == nullptr) {
    std::memset(data.data(), 0xff, data.size());
    return false;
  }
  r->device->read(addr - base, data);
  return true;
}

bool Bus::write(uint64_t addr, std::span<const uint8_t> data) const {
  uint64_t base;
  const Range* r = find(addr, &base);
  if (r == nullptr) return false;
  r->device->write(addr - base, data);
  return true;
}

}  // namespace vessel::vmm
