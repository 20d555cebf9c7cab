// The seam between the vCPU loop and the devices: an address space (port I/O or MMIO) mapping
// ranges to devices. A vCPU exit becomes one read or write call on the device that owns the
// address; accesses to nothing read as all ones and are counted.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>

#include "base/error.h"

namespace vessel::vmm {

class BusDevice {
 public:
  virtual ~BusDevice() = default;
  // `offset` is relative to the base the device was inserted at; data.size() is 1, 2, 4 or 8.
  virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

// Raises an interrupt towards the guest (an irqfd on a GSI, or an MSI).
class InterruptLine {
 public:
  virtual ~InterruptLine() = default;
  virtual Result<void> trigger() = 0;
  // The eventfd behind the line when it is a KVM irqfd (a kernel may signal it directly), else -1.
  virtual int irqfd() const { return -1; }
};

class Bus {
 public:
  // Fails when [base, base + len) overlaps a range already inserted or len is 0.
  Result<void> insert(std::shared_ptr<BusDevice> device, uint64_t base, uint64_t len);
  // Returns false when no device owns the address (the read data is then filled with 0xff).
  bool read(uint64_t addr, std::span<uint8_t> data) const;
  bool write(uint64_t addr, std::span<const uint8_t> data) const;

 private:
  struct Range {
    uint64_t len;
    std::shared_ptr<BusDevice> device;
  };
  const Range* find(uint64_t addr, uint64_t* base) const;
  std::map<uint64_t, Range> ranges_;  // by base; written only before the vCPUs start
};

}  // namespace vessel::vmm
