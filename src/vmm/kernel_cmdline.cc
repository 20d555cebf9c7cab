#include "vmm/kernel_cmdline.h"

namespace vessel::vmm {

KernelCmdline::KernelCmdline(std::string_view boot_args) : kernel_(boot_args) {
  if (auto pos = (" " + kernel_ + " ").find(" -- "); pos != std::string::npos) {
    init_args_ = " " + kernel_.substr(pos);  // "--" starts at `pos` in the unpadded string
    kernel_.erase(pos);
    while (!kernel_.empty() && kernel_.back() == ' ') kernel_.pop_back();
  }
}

void KernelCmdline::add(std::string_view param) {
  kernel_ += ' ';
  kernel_ += param;
}

std::string KernelCmdline::str() const {
  std::string s = kernel_ + init_args_;
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  return s;
}

}  // namespace vessel::vmm
