// CRC-64/XZ (ECMA-182 polynomial, reflected, initial and final value all ones): the checksum of a
// snapshot's state file. Check value: crc64("123456789") == 0x995dc9bbdf1939fa.
#pragma once

#include <cstdint>
#include <span>

namespace vessel::vmm::snapshot {

uint64_t crc64(std::span<const uint8_t> bytes, uint64_t crc = 0);

}  // namespace vessel::vmm::snapshot
