// A Machine as the source of a live migration (docs/vmm/migration.md): its RAM, its dirty logs
// (KVM's per slot, turned on for the migration, and GuestMemory's for vessel-vmm's own writes),
// pause and resume, and its encoded state. Runs on the VMM thread.
#include <poll.h>

#include "base/log.h"
#include "vmm/machine_impl.h"
#include "vmm/migration/sender.h"

namespace vessel::vmm {
namespace {

class MachineSource : public migration::VmSource {
 public:
  MachineSource(Machine& machine, Machine::Impl& impl, int pagemap_fd)
      : machine_(machine), impl_(impl), pagemap_fd_(pagemap_fd) {}

  std::span<const uint8_t> ram() const override { return {impl_.memory.host_base(), impl_.memory.size()}; }
  uint32_t vcpu_count() const override { return static_cast<uint32_t>(impl_.vcpus.size()); }
  bool running() const override { return impl_.state == Machine::State::Running; }
  std::string config() const override { return impl_.config.to_json().dump(); }

  // A VM built with track_dirty_pages logs already: the pages pending for its next Diff snapshot
  // are kept aside (and put back if the migration fails). Otherwise the log is turned on with
  // the VM paused for a moment: device threads mark GuestMemory's bitmap, which must exist
  // before any of them runs again.
  Result<void> start_dirty_log() override {
    if (impl_.memory.tracks_dirty_pages()) {
      pending_ = TRY(vmm::take_dirty_pages(impl_));
      return {};
    }
    bool was_running = running();
    if (was_running) TRY(machine_.pause());
    auto on = [&]() -> Result<void> {
      impl_.memory.track_dirty_pages();
      for (const auto& r : impl_.memory.regions())
        TRY_CTX(impl_.vm.set_user_memory_region(r.slot, r.guest_base, r.size, r.host, KVM_MEM_LOG_DIRTY_PAGES),
                "turn on KVM's dirty log for memory slot {}", r.slot);
      return {};
    }();
    turned_on_ = true;
    if (was_running) TRY(machine_.resume());
    return on;
  }

  Result<std::vector<uint64_t>> take_dirty_pages() override { return vmm::take_dirty_pages(impl_); }

  // A VM that ended while it was being sent (its event is pending) is not sent. Paused, its
  // writable images are made durable and their locks dropped: the receiver opens them when the
  // state arrives.
  Result<void> pause() override {
    TRY(machine_.pause());
    pollfd p{machine_.event_fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) == 1) return fail(ECANCELED, "the VM stopped during the migration");
    for (auto& d : impl_.virtio) {
      auto released = d->hand_over_image(true);
      handed_over_ = true;
      if (!released) return released;
    }
    return {};
  }
  Result<std::vector<uint8_t>> save_state() override { return machine_.encode_state(); }
  // The migration failed: the images' locks are taken again before the VM goes on. A receiver
  // that took them lets go when it throws its VM away, which may take a moment; the VM goes on
  // anyway (never lost), without the lock if it cannot be had.
  Result<void> resume() override {
    if (handed_over_) {
      for (auto& d : impl_.virtio) {
        auto again = d->hand_over_image(false);
        for (int i = 0; i < 100 && !again; ++i) {
          ::poll(nullptr, 0, 20);
          again = d->hand_over_image(false);
        }
        if (!again) log::warn("the VM goes on without its image lock: {}", again.error().to_string());
      }
      handed_over_ = false;
    }
    return machine_.resume();
  }

  // After a failed migration the logs stay on. A log this migration turned on began mid-life: a
  // later Diff snapshot must then hold every page, so every page counts as written.
  void put_back_dirty_pages(const std::vector<uint64_t>& pages) override {
    if (turned_on_) {
      uint64_t count = impl_.memory.size() / 4096;
      std::vector<uint64_t> every((count + 63) / 64, ~0ull);
      if (count % 64) every.back() = (1ull << (count % 64)) - 1;
      impl_.memory.mark_pages(every);
      return;
    }
    std::vector<uint64_t> all = pages;
    all.resize(std::max(all.size(), pending_.size()));
    for (size_t i = 0; i < pending_.size(); ++i) all[i] |= pending_[i];
    impl_.memory.mark_pages(all);
  }

  // /proc/self/pagemap: a page of an anonymous mapping that is neither present (bit 63) nor
  // swapped (bit 62) was never written (or was dropped): it reads as zeros. Not for RAM mapped
  // from a snapshot's memory file, whose absent pages hold the file's bytes.
  std::vector<uint64_t> untouched_pages() override {
    if (pagemap_fd_ < 0 || impl_.memory_file) return {};
    uint64_t pages = impl_.memory.size() / 4096;
    std::vector<uint64_t> out((pages + 63) / 64), entries(4096);
    auto first = reinterpret_cast<uintptr_t>(impl_.memory.host_base()) / 4096;
    for (uint64_t p = 0; p < pages; p += entries.size()) {
      uint64_t n = std::min<uint64_t>(entries.size(), pages - p);
      if (!pread_exact(pagemap_fd_, entries.data(), n * 8, (first + p) * 8)) return {};
      for (uint64_t i = 0; i < n; ++i)
        if ((entries[i] >> 62) == 0) out[(p + i) / 64] |= 1ull << ((p + i) % 64);
    }
    return out;
  }

 private:
  Machine& machine_;
  Machine::Impl& impl_;
  int pagemap_fd_;
  std::vector<uint64_t> pending_;
  bool turned_on_ = false;
  bool handed_over_ = false;  // the images' locks were dropped at the pause
};

}  // namespace

std::unique_ptr<migration::VmSource> Machine::migration_source(int pagemap_fd) {
  if (!impl_) return nullptr;
  return std::make_unique<MachineSource>(*this, *impl_, pagemap_fd);
}

}  // namespace vessel::vmm
