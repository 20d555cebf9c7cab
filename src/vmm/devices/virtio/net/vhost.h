// The only place in vessel that issues vhost ioctls (as src/kvm is for KVM): one /dev/vhost-net
// instance, whose kernel worker serves a virtio-net device's rings against a tap. Every call
// returns a Result naming the ioctl that failed.
#pragma once

// linux/vhost.h pulls in linux/virtio_ring.h, whose legacy vring_init() is not valid C++.
#ifndef VIRTIO_RING_NO_LEGACY
#define VIRTIO_RING_NO_LEGACY
#endif
#include <linux/vhost.h>

#include <cstdint>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::vmm::virtio::net {

// One guest RAM region as vhost sees it: guest-physical base, size, and where it is mapped here.
struct VhostMemoryRegion {
  uint64_t guest_base;
  uint64_t size;
  uint64_t host_addr;
};

// Host addresses of one queue's three parts (inside the guest RAM mapping).
struct VhostVringAddr {
  uint64_t desc, avail, used;
};

class VhostNet {
 public:
  inline static constexpr const char* kDevicePath = "/dev/vhost-net";
  // Opens the device and makes this process its owner (VHOST_SET_OWNER: the kernel worker
  // reads guest RAM through our address space).
  static Result<VhostNet> open(const char* path = kDevicePath);
  int fd() const { return fd_.get(); }

  Result<uint64_t> get_features() const;                                      // VHOST_GET_FEATURES
  Result<void> set_features(uint64_t features);                               // VHOST_SET_FEATURES
  Result<void> set_mem_table(const std::vector<VhostMemoryRegion>& regions);  // VHOST_SET_MEM_TABLE
  Result<void> set_vring_num(uint32_t index, uint32_t num);                   // VHOST_SET_VRING_NUM
  Result<void> set_vring_base(uint32_t index, uint32_t base);               // VHOST_SET_VRING_BASE
  Result<uint32_t> get_vring_base(uint32_t index);                          // VHOST_GET_VRING_BASE
  Result<void> set_vring_addr(uint32_t index, const VhostVringAddr& addr);  // VHOST_SET_VRING_ADDR
  Result<void> set_vring_kick(uint32_t index, int eventfd);                 // VHOST_SET_VRING_KICK
  Result<void> set_vring_call(uint32_t index, int eventfd);                 // VHOST_SET_VRING_CALL
  Result<void> set_vring_err(uint32_t index, int eventfd);                  // VHOST_SET_VRING_ERR
  // VHOST_NET_SET_BACKEND: the tap the queue's frames go to (-1: stop serving the queue).
  Result<void> set_backend(uint32_t index, int tap_fd);

 private:
  explicit VhostNet(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

// The ioctl request numbers above, for the seccomp filters (src/vmm/sandbox): those that open
// and set up the instance when a VM is built (VMM thread), and those that start and stop the
// rings (the device thread). Inline: the sandbox library lists them without linking this one.
inline std::vector<unsigned long> vhost_build_ioctls() {
  return {VHOST_SET_OWNER, VHOST_GET_FEATURES, VHOST_SET_MEM_TABLE};
}
inline std::vector<unsigned long> vhost_ring_ioctls() {
  return {VHOST_SET_FEATURES,   VHOST_SET_VRING_NUM,  VHOST_SET_VRING_BASE,
          VHOST_GET_VRING_BASE, VHOST_SET_VRING_ADDR, VHOST_SET_VRING_KICK,
          VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR,  VHOST_NET_SET_BACKEND};
}

}  // namespace vessel::vmm::virtio::net
