// Fuzz target: the virtio-blk request parser on chains walked from fuzzed guest RAM. Whatever it
// accepts must satisfy what BlockLogic::execute relies on: data within guest RAM, a sector range
// inside the disk, lengths multiple of 512, and a status byte inside the chain's writable part.
#include <cstdint>
#include <cstring>

#include "fuzz_memory.h"
#include "vmm/devices/virtio/block/blk_request.h"

using namespace vessel::vmm;
using namespace vessel::vmm::virtio;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 16) return 0;
  uint16_t head, flags;
  uint32_t capacity;
  std::memcpy(&head, data, 2);
  std::memcpy(&flags, data + 2, 2);
  std::memcpy(&capacity, data + 4, 4);
  const GuestMemory& mem = fuzz::fuzz_memory(data, size);
  // Descriptor table of 64 entries at 0x400 (inside the input when it is long enough).
  QueueLayout layout{64, 0x400, 0x800, 0xa00};
  auto chain = parse_chain(mem, layout, head % 64, flags & 1);
  if (!chain) return 0;
  blk::DiskGeometry disk{capacity, bool(flags & 2), bool(flags & 4), bool(flags & 8)};
  auto req = blk::parse_request(mem, *chain, disk);
  if (!req) {
    if (req.error().status_addr) fuzz::check(mem.contains(*req.error().status_addr, 1));
    return 0;
  }
  fuzz::check(mem.contains(req->status_addr, 1));
  uint64_t total = 0;
  const uint8_t* base = mem.host_base();
  for (const auto& v : req->data) {
    auto* p = static_cast<const uint8_t*>(v.iov_base);
    fuzz::check(p >= base && p + v.iov_len <= base + fuzz::kFuzzRam);
    total += v.iov_len;
  }
  fuzz::check(total == req->data_len);
  switch (req->type) {
    case blk::RequestType::In:
    case blk::RequestType::Out:
      fuzz::check(req->data_len % blk::kSectorSize == 0);
      fuzz::check(req->sector <= disk.capacity_sectors &&
                  req->data_len / blk::kSectorSize <= disk.capacity_sectors - req->sector);
      fuzz::check(!(req->type == blk::RequestType::Out && disk.read_only));
      break;
    case blk::RequestType::Discard:
    case blk::RequestType::WriteZeroes:
      fuzz::check(!disk.read_only);
      fuzz::check(req->range_sector + req->range_sectors <= disk.capacity_sectors);
      break;
    case blk::RequestType::GetId:
      fuzz::check(req->data_len <= blk::kIdBytes);
      break;
    case blk::RequestType::Flush:
      break;
  }
  // Touch every accepted byte, as the backend would (ASan catches a bad iovec).
  uint8_t sink = 0;
  for (const auto& v : req->data)
    for (size_t i = 0; i < v.iov_len; ++i) sink ^= static_cast<const uint8_t*>(v.iov_base)[i];
  asm volatile("" : : "r"(sink));
  return 0;
}
