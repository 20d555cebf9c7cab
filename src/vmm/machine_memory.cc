// Guest memory seen from the Machine: a Uffd-restored machine's page-fault handler, watched by the
// VMM thread (docs/vmm/uffd.md), and the memory metrics (docs/vmm/memory.md).
#include <unistd.h>

#include "base/log.h"
#include "vmm/machine_impl.h"

namespace vessel::vmm {

int Machine::memory_watch_fd() const { return impl_ && impl_->uffd ? impl_->uffd->watch_fd() : -1; }

// The handler holds the only way to fill the pages it has not served yet: a vCPU (inside KVM_RUN)
// or a device thread that touches one waits for ever and cannot be joined. Ending the process
// kills those waits (exit status 2, as any VM the VMM cannot continue).
void Machine::memory_backend_lost(short revents) {
  log::error("{}: guest pages not served yet can never be filled; vessel-vmm ends the VM (exit status 2)",
             snapshot::UffdBackend::describe(revents));
  ::_exit(exit_code({VmEvent::Kind::Error, 0, "page-fault handler lost"}));
}

json::Json Machine::memory_metrics() const {
  if (!impl_) return json::Json::object();
  const auto& m = impl_->memory;
  json::Json j = {{"size_mib", m.size() >> 20},
                  {"page_size", m.page_size()},
                  {"huge_pages", m.page_size() == 4096 ? "None" : "2M"},
                  {"backend", impl_->uffd ? "Uffd" : impl_->memory_file ? "File" : "Anonymous"}};
  json::Json ksm = {{"enabled", impl_->config.machine.ksm}};
  if (impl_->ksm) {
    if (auto c = impl_->ksm->read()) {
      ksm["merging_pages"] = c->merging_pages;
      ksm["zero_pages"] = c->zero_pages;
      ksm["rmap_items"] = c->rmap_items;
      if (c->process_profit) ksm["process_profit_bytes"] = *c->process_profit;
    } else {
      ksm["error"] = c.error().to_string();
    }
  }
  j["ksm"] = ksm;
  return j;
}

}  // namespace vessel::vmm
