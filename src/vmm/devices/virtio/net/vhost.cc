#include "vmm/devices/virtio/net/vhost.h"

#include <fcntl.h>
#include <linux/vhost.h>
#include <sys/ioctl.h>

#include <cstring>

namespace vessel::vmm::virtio::net {

Result<VhostNet> VhostNet::open(const char* path) {
  Fd fd = TRY(Fd::open(path, O_RDWR | O_NONBLOCK));
  if (::ioctl(fd.get(), VHOST_SET_OWNER, nullptr) < 0)
    return fail_errno("VHOST_SET_OWNER on {}", path);
  return VhostNet(std::move(fd));
}

Result<uint64_t> VhostNet::get_features() const {
  uint64_t features = 0;
  if (::ioctl(fd_.get(), VHOST_GET_FEATURES, &features) < 0)
    return fail_errno("VHOST_GET_FEATURES");
  return features;
}

Result<void> VhostNet::set_features(uint64_t features) {
  if (::ioctl(fd_.get(), VHOST_SET_FEATURES, &features) < 0)
    return fail_errno("VHOST_SET_FEATURES {:#x}", features);
  return {};
}

Result<void> VhostNet::set_mem_table(const std::vector<VhostMemoryRegion>& regions) {
  // struct vhost_memory ends in a flexible array: one buffer holds the header and the regions.
  std::vector<uint8_t> buf(sizeof(vhost_memory) + regions.size() * sizeof(vhost_memory_region));
  vhost_memory header{};
  header.nregions = static_cast<uint32_t>(regions.size());
  std::memcpy(buf.data(), &header, sizeof header);
  for (size_t i = 0; i < regions.size(); ++i) {
    vhost_memory_region r{};
    r.guest_phys_addr = regions[i].guest_base;
    r.memory_size = regions[i].size;
    r.userspace_addr = regions[i].host_addr;
    std::memcpy(buf.data() + sizeof header + i * sizeof r, &r, sizeof r);
  }
  if (::ioctl(fd_.get(), VHOST_SET_MEM_TABLE, buf.data()) < 0)
    return fail_errno("VHOST_SET_MEM_TABLE ({} regions)", regions.size());
  return {};
}

Result<void> VhostNet::set_vring_num(uint32_t index, uint32_t num) {
  vhost_vring_state s{index, num};
  if (::ioctl(fd_.get(), VHOST_SET_VRING_NUM, &s) < 0)
    return fail_errno("VHOST_SET_VRING_NUM {} {}", index, num);
  return {};
}

Result<void> VhostNet::set_vring_base(uint32_t index, uint32_t base) {
  vhost_vring_state s{index, base};
  if (::ioctl(fd_.get(), VHOST_SET_VRING_BASE, &s) < 0)
    return fail_errno("VHOST_SET_VRING_BASE {} {}", index, base);
  return {};
}

Result<uint32_t> VhostNet::get_vring_base(uint32_t index) {
  vhost_vring_state s{index, 0};
  if (::ioctl(fd_.get(), VHOST_GET_VRING_BASE, &s) < 0)
    return fail_errno("VHOST_GET_VRING_BASE {}", index);
  return s.num;
}

Result<void> VhostNet::set_vring_addr(uint32_t index, const VhostVringAddr& addr) {
  vhost_vring_addr a{};
  a.index = index;
  a.desc_user_addr = addr.desc;
  a.avail_user_addr = addr.avail;
  a.used_user_addr = addr.used;
  if (::ioctl(fd_.get(), VHOST_SET_VRING_ADDR, &a) < 0)
    return fail_errno("VHOST_SET_VRING_ADDR {}", index);
  return {};
}

namespace {
Result<void> vring_file(int vhost, unsigned long request, const char* name, uint32_t index,
                        int fd) {
  vhost_vring_file f{index, fd};
  if (::ioctl(vhost, request, &f) < 0) return fail_errno("{} {} fd {}", name, index, fd);
  return {};
}
}  // namespace

Result<void> VhostNet::set_vring_kick(uint32_t index, int eventfd) {
  return vring_file(fd_.get(), VHOST_SET_VRING_KICK, "VHOST_SET_VRING_KICK", index, eventfd);
}
Result<void> VhostNet::set_vring_call(uint32_t index, int eventfd) {
  return vring_file(fd_.get(), VHOST_SET_VRING_CALL, "VHOST_SET_VRING_CALL", index, eventfd);
}
Result<void> VhostNet::set_vring_err(uint32_t index, int eventfd) {
  return vring_file(fd_.get(), VHOST_SET_VRING_ERR, "VHOST_SET_VRING_ERR", index, eventfd);
}
Result<void> VhostNet::set_backend(uint32_t index, int tap_fd) {
  return vring_file(fd_.get(), VHOST_NET_SET_BACKEND, "VHOST_NET_SET_BACKEND", index, tap_fd);
}

}  // namespace vessel::vmm::virtio::net
