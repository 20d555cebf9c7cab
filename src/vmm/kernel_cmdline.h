// The guest kernel's command line as the VMM assembles it: the user's boot_args, then the
// parameters the VMM adds (virtio-mmio windows, root=, PVM workarounds). What follows " -- " is
// for init, not the kernel, so added parameters go before it.
#pragma once

#include <string>
#include <string_view>

namespace vessel::vmm {

class KernelCmdline {
 public:
  explicit KernelCmdline(std::string_view boot_args);
  // Appends " param" before the init arguments.
  void add(std::string_view param);
  // Does the kernel part already name `text` (e.g. "root=", a user override)?
  bool mentions(std::string_view text) const { return kernel_.find(text) != std::string::npos; }
  std::string str() const;

 private:
  std::string kernel_, init_args_;
};

}  // namespace vessel::vmm
