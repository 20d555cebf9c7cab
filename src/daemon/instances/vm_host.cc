#include "daemon/instances/vm_host.h"

namespace vessel::daemon {

namespace {

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

}  // namespace

Error vm_host_error(const hostcheck::Report& report) {
  std::string why = report.vm_problems.empty() ? "the host check found no usable KVM"
                                               : join(report.vm_problems, "; ");
  std::string hint = join(report.vm_advice, "; or ");
  hint += std::string(hint.empty() ? "" : "; ") + "`vessel host check` on this host says more";
  return Error(ENODEV, "this host cannot run VMs: " + why).with_hint(std::move(hint));
}

Result<void> check_vm_host() {
  hostcheck::Report report = hostcheck::probe_vms();
  if (report.vms_ok) return {};
  return Unexpected(vm_host_error(report));
}

}  // namespace vessel::daemon
