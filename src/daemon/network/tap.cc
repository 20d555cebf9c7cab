#include "daemon/network/tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cstring>

#include "base/fd.h"
#include "daemon/network/rtnetlink.h"

namespace vessel::daemon {

Result<void> create_vm_tap(const std::string& name, uid_t uid, gid_t gid, const std::string& bridge) {
  if (name.empty() || name.size() >= IFNAMSIZ) return fail(EINVAL, "tap name '{}' is not 1..15 bytes", name);
  auto rt = TRY(Rtnetlink::open());
  (void)rt.delete_link(name);  // a stale tap of an earlier run: its owner may differ
  {
    auto tun = TRY(Fd::open("/dev/net/tun", O_RDWR));
    ifreq req{};
    std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
    // The flags vessel-vmm opens it with (Firecracker's): no packet info, a virtio-net header.
    req.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (::ioctl(tun.get(), TUNSETIFF, &req) < 0) return fail_errno("create tap {}", name);
    if (::ioctl(tun.get(), TUNSETOWNER, static_cast<unsigned long>(uid)) < 0) return fail_errno("tap {}: set owner {}", name, uid);
    if (::ioctl(tun.get(), TUNSETGROUP, static_cast<unsigned long>(gid)) < 0) return fail_errno("tap {}: set group {}", name, gid);
    if (::ioctl(tun.get(), TUNSETPERSIST, 1ul) < 0) return fail_errno("tap {}: make persistent", name);
  }
  auto made = [&]() -> Result<void> {
    int index = TRY(rt.link_index(name));
    TRY_CTX(rt.set_master(index, TRY(rt.link_index(bridge))), "tap {} on bridge {}", name, bridge);
    TRY_CTX(rt.set_up(index), "tap {}", name);
    return {};
  }();
  if (!made) (void)rt.delete_link(name);
  return made;
}

}  // namespace vessel::daemon
