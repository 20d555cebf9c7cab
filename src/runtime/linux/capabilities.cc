#include "runtime/linux/capabilities.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/fd.h"

namespace vessel::runtime {

int kernel_last_cap() {
  static int cached = -1;
  if (cached < 0) {
    auto text = read_file("/proc/sys/kernel/cap_last_cap");
    cached = text ? std::atoi(text->c_str()) : last_capability();
  }
  return cached;
}

Result<void> apply_capabilities(const Capabilities& caps) {
  int last = kernel_last_cap();
  {
    // setuid to a non-root user cleared the effective set (PR_SET_KEEPCAPS keeps only
    // permitted): make the permitted capabilities effective again to drop the bounding set.
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct cur[2]{};
    if (syscall(SYS_capget, &h, cur) == 0) {
      cur[0].effective = cur[0].permitted;
      cur[1].effective = cur[1].permitted;
      syscall(SYS_capset, &h, cur);
    }
  }
  for (int cap = 0; cap <= last; ++cap) {
    if (caps.bounding & (uint64_t{1} << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return fail_errno("drop {} from the bounding set", capability_name(cap));
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  auto lo = [](uint64_t v) { return static_cast<uint32_t>(v); };
  auto hi = [](uint64_t v) { return static_cast<uint32_t>(v >> 32); };
  data[0].effective = lo(caps.effective);
  data[1].effective = hi(caps.effective);
  data[0].permitted = lo(caps.permitted);
  data[1].permitted = hi(caps.permitted);
  data[0].inheritable = lo(caps.inheritable);
  data[1].inheritable = hi(caps.inheritable);
  if (syscall(SYS_capset, &header, data) != 0) return fail_errno("set capabilities (capset)");
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int cap = 0; cap <= last; ++cap) {
    if (!(caps.ambient & (uint64_t{1} << cap))) continue;
    // Like runc: an ambient capability outside permitted+inheritable is skipped, not fatal.
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
  }
  return {};
}

}  // namespace vessel::runtime
