// Machine::snapshot() and Machine::restore() (docs/vmm/snapshot.md): a paused VM's KVM and device
// state into a state file and its RAM into a memory file, and back into a new process.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>

#include "base/log.h"
#include "vmm/machine_impl.h"
#include "vmm/snapshot/kvm_state.h"
#include "vmm/snapshot/device_extra.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/snapshot/memory_file.h"
#include "vmm/snapshot/restored_memory.h"
#include "vmm/snapshot/state_file.h"

namespace vessel::vmm {
namespace {

// The snapshot's machine must be the one this host would build: same vCPU count and memory as
// its configuration, and the CPUID this vessel-vmm gives vCPU 0 here (`expected`: as the machine
// built from that configuration set it).
Result<void> check_machine(const snapshot::MachineState& s, const VmConfig& config,
                           const std::vector<kvm_cpuid_entry2>& expected) {
  if (config.machine.vcpu_count != s.vcpu_count)
    return fail(EINVAL, "wrong machine: the snapshot has {} vCPUs, its configuration {}", s.vcpu_count,
                config.machine.vcpu_count);
  if ((config.machine.mem_size_mib << 20) != s.mem_size)
    return fail(EINVAL, "wrong machine: the snapshot has {} bytes of RAM, its configuration {} MiB", s.mem_size,
                config.machine.mem_size_mib);
  if (expected.size() != s.cpuid.size())
    return fail(EINVAL, "wrong machine: CPUID mismatch (the snapshot has {} CPUID entries, this host gives {})",
                s.cpuid.size(), expected.size());
  for (size_t i = 0; i < s.cpuid.size(); ++i) {
    const auto& a = s.cpuid[i];
    const auto& b = expected[i];
    if (a.function != b.function || a.index != b.index || a.eax != b.eax || a.ebx != b.ebx || a.ecx != b.ecx ||
        a.edx != b.edx || a.flags != b.flags)
      return fail(EINVAL, "wrong machine: CPUID mismatch at leaf {:#x} index {} (the snapshot comes from another CPU or vessel-vmm)",
                  a.function, a.index);
  }
  return {};
}

// Opens (creating) a snapshot file for writing and empties it, unless it is the file this VM's RAM
// is mapped from.
Result<Fd> open_output(const std::string& path, const char* what,
                       const std::optional<std::pair<uint64_t, uint64_t>>& memory_file) {
  auto fd = TRY_CTX(Fd::open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600), "{} {}", what, path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("{} {}: fstat", what, path);
  if (memory_file && memory_file->first == st.st_dev && memory_file->second == st.st_ino)
    return fail(EINVAL, "{} {} is the memory file this VM was loaded from and still reads: write the snapshot elsewhere",
                what, path);
  if (::ftruncate(fd.get(), 0) != 0) return fail_errno("{} {}: truncate", what, path);
  return fd;
}

}  // namespace

// The pages written since the last call: KVM's dirty log of each slot (the guest's writes) and
// GuestMemory's marks (vessel-vmm's), as one bitmap over the memory file's pages. Both logs
// start again.
Result<std::vector<uint64_t>> take_dirty_pages(Machine::Impl& m) {
  std::vector<uint64_t> pages = m.memory.take_dirty_pages();
  for (const auto& r : m.memory.regions()) {
    uint64_t count = r.size / 4096;
    auto log = TRY(m.vm.get_dirty_log(r.slot, count));
    uint64_t first = static_cast<uint64_t>(r.host - m.memory.host_base()) / 4096;
    for (uint64_t i = 0; i < count; ++i)
      if ((log[i / 64] >> (i % 64)) & 1) pages[(first + i) / 64] |= 1ull << ((first + i) % 64);
  }
  return pages;
}

// On one host the receiving process builds its devices while the sender still runs, and a tap
// can be held by one process only. A vsock device migrates: its socket path must be free where
// the receiver runs (another jail's /vessel-run under vesseld, or another host); a receiver that
// finds it held by a live process refuses the VM before any page is sent.
Result<void> Machine::check_migratable() const {
  if (!config_.network_interfaces.empty())
    return fail(ENOTSUP, "a VM with a network interface ('{}') cannot be migrated yet: the receiving process would need "
                         "its tap while the sender still holds it (snapshot it instead)",
                config_.network_interfaces.front().iface_id);
  return {};
}

Result<std::vector<uint8_t>> Machine::encode_state() {
  if (!impl_ || impl_->state != State::Paused) return fail(EINVAL, "the VM is {}; pause it first", to_string(state()));
  snapshot::MachineState s;
  s.vcpu_count = static_cast<uint32_t>(impl_->vcpus.size());
  s.mem_size = impl_->memory.size();
  s.cpuid = impl_->cpuid0;
  s.config = impl_->config.to_json().dump();
  for (auto& v : impl_->vcpus) s.vcpus.push_back(TRY(snapshot::save_vcpu(v->vcpu(), impl_->msrs)));
  s.vm = TRY(snapshot::save_vm(impl_->vm));
  s.serial = serial_->save_state();
  s.i8042 = impl_->i8042->save_state();
  s.rtc = impl_->rtc->save_state();
  if (impl_->watchdog) s.watchdog = impl_->watchdog->save_state();
  for (auto& d : impl_->virtio) {
    s.virtio.push_back(TRY(d->save_state()));
    TRY(snapshot::add_device_extra(s, TRY(d->save_extra())));
  }
  return snapshot::encode(s);
}

Result<void> Machine::snapshot(const std::string& state_path, const std::string& mem_path, bool diff) {
  if (!impl_ || impl_->state != State::Paused)
    return fail(EINVAL, "snapshot/create: the VM is {}; pause it first (PATCH /vm {{\"state\": \"Paused\"}})",
                to_string(state()));
  if (diff && !impl_->memory.tracks_dirty_pages())
    return fail(EINVAL, "snapshot/create: a Diff snapshot needs dirty page tracking (machine-config "
                        "track_dirty_pages, or enable_diff_snapshots in snapshot/load)");
  std::vector<uint8_t> bytes = TRY(encode_state());
  // The disks as the snapshot's memory knows them: a qcow2 drive's cached metadata reaches its
  // file, so that the image is whole if this process ends now (vesseld's suspend and named
  // snapshots end it and reopen the disks elsewhere).
  for (auto& d : impl_->virtio) TRY_CTX(d->sync(), "snapshot/create");

  // With tracking on, every snapshot (a Full one too) starts the dirty log again; if writing
  // fails the pages taken are marked again, so the next Diff still has them.
  std::vector<uint64_t> dirty;
  if (impl_->memory.tracks_dirty_pages()) dirty = TRY(take_dirty_pages(*impl_));
  auto written = [&]() -> Result<void> {
    auto mem = TRY(open_output(mem_path, "mem_file_path", impl_->memory_file));
    if (diff)
      TRY_CTX(snapshot::write_memory_pages(impl_->memory, mem.get(), dirty), "mem_file_path {}", mem_path);
    else
      TRY_CTX(snapshot::write_memory_file(impl_->memory, mem.get()), "mem_file_path {}", mem_path);
    auto state = TRY(open_output(state_path, "snapshot_path", impl_->memory_file));
    TRY_CTX(write_all(state.get(), bytes.data(), bytes.size()), "snapshot_path {}", state_path);
    return {};
  }();
  if (!written) {
    impl_->memory.mark_pages(dirty);
    return written;
  }
  log::info("snapshot: {} vCPUs, {} bytes of state in {}, {} MiB of RAM in {}", impl_->vcpus.size(), bytes.size(),
            state_path, impl_->memory.size() >> 20, mem_path);
  return {};
}

Result<std::unique_ptr<Machine>> Machine::restore(const std::string& state_path, const std::string& mem_path,
                                                  MachineOptions options, bool track_dirty_pages, bool uffd) {
  auto bytes = TRY(snapshot::read_state_file(state_path));
  auto s = TRY_CTX(snapshot::decode(bytes), "snapshot_path {}", state_path);
  auto config = TRY_CTX(parse_vm_config(s.config), "snapshot_path {}: the VM configuration", state_path);
  TRY(validate_for_start(config));  // before a handler is connected
  bool huge = config.machine.huge_pages == HugePages::TwoMiB;
  auto source = TRY(uffd ? restored_memory_from_handler(mem_path, s.mem_size, huge)
                         : restored_memory_from_file(mem_path, s.mem_size, huge));
  auto machine = TRY(restore(s, std::move(source.memory), std::move(options), track_dirty_pages));
  machine->impl_->uffd = std::move(source.uffd);
  machine->impl_->memory_file = source.file_id;
  log::info("snapshot restored: {} vCPUs, {} MiB of RAM {} {}", s.vcpu_count, s.mem_size >> 20,
            uffd ? "served by the page-fault handler at" : "mapped from", mem_path);
  return machine;
}

Result<std::unique_ptr<Machine>> Machine::restore(const snapshot::MachineState& s, GuestMemory memory,
                                                  MachineOptions options, bool track_dirty_pages) {
  auto config = TRY_CTX(parse_vm_config(s.config), "the snapshot's VM configuration");
  if (track_dirty_pages) config.machine.track_dirty_pages = true;
  auto machine = TRY(prepare_restore(std::move(config), std::move(memory), std::move(options)));
  TRY(machine->load_state(s));
  return machine;
}

Result<std::unique_ptr<Machine>> Machine::prepare_restore(VmConfig config, GuestMemory memory, MachineOptions options) {
  TRY(validate_for_start(config));
  if (memory.size() != (config.machine.mem_size_mib << 20))
    return fail(EINVAL, "guest RAM of {} bytes for a configuration of {} MiB", memory.size(), config.machine.mem_size_mib);
  std::unique_ptr<Machine> machine(new Machine(config, std::move(options)));
  machine->impl_ = TRY(machine->build_restored(std::move(memory)));
  return machine;
}

Result<void> Machine::load_state(const snapshot::MachineState& s) {
  if (!impl_ || impl_->state != State::Created) return fail(EINVAL, "load_state: not a machine from prepare_restore");
  TRY(check_machine(s, impl_->config, impl_->cpuid0));
  if (impl_->memory.size() != s.mem_size)
    return fail(EINVAL, "guest RAM of {} bytes for a snapshot of {} bytes", impl_->memory.size(), s.mem_size);
  Impl* impl = impl_.get();
  // A migration's receiver: its writable images, opened again now that the sender let go.
  for (auto& d : impl->virtio) TRY(d->take_over_image());
  TRY_CTX(snapshot::restore_vm(impl->vm, s.vm), "restore the VM");
  for (size_t i = 0; i < impl->vcpus.size(); ++i)
    TRY_CTX(snapshot::restore_vcpu(impl->vcpus[i]->vcpu(), s.vcpus[i]), "restore vCPU {}", i);
  serial_->restore_state(s.serial);
  impl->i8042->restore_state(s.i8042);
  if (s.rtc) impl->rtc->restore_state(*s.rtc);
  if (s.watchdog && !impl->watchdog) return fail(EINVAL, "snapshot: a watchdog section, but the configuration has no watchdog");
  // Without a section (the file was edited) the guest finds its watchdog stopped.
  if (impl->watchdog && s.watchdog) impl->watchdog->restore_state(*s.watchdog);
  if (s.virtio.size() != impl->virtio.size())
    return fail(EINVAL, "snapshot: {} virtio devices saved, the configuration makes {}", s.virtio.size(),
                impl->virtio.size());
  for (size_t i = 0; i < s.virtio.size(); ++i) {
    // The device's own state first: the transport's activates it.
    TRY_CTX(impl->virtio[i]->restore_extra(snapshot::device_extra_at(s, s.virtio[i].mmio_base)), "restore virtio device {}", i);
    TRY_CTX(impl->virtio[i]->restore_state(s.virtio[i]), "restore virtio device {}", i);
  }
  return {};
}

}  // namespace vessel::vmm
