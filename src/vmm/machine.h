// A running VM: KVM VM and vCPUs, guest memory, buses and devices, built from a VmConfig. The
// machine owns the lifecycle (start, pause, resume, stop) and turns the first VmEvent into the
// process's exit status (docs/vmm/README.md, "Exit status").
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "base/json.h"
#include "kvm/kvm.h"
#include "vmm/api/vm_config.h"
#include "vmm/arch/x86_64/emulate.h"
#include "vmm/bus/bus.h"
#include "vmm/devices/legacy/serial.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/vcpu/vcpu_runner.h"
#include "vmm/vm_event.h"

namespace vessel::vmm {

namespace snapshot {
struct MachineState;
}
namespace migration {
class VmSource;
}
namespace virtio {
class BalloonControl;
}

struct MachineOptions {
  int console_fd = 1;  // where the serial console goes
  std::string guest_profile;  // when set: sample guest RIPs and write them here at the end
  std::chrono::microseconds guest_profile_interval{1000};
  uint32_t virtio_poll_us = 50;  // virtio-blk ring polling after a batch (virtio::BlockConfig::poll_us)
  // Built by a live migration's receiver: writable drives open without their locks until the
  // state is loaded (virtio::BlockConfig::defer_lock).
  bool incoming_migration = false;
};

// Every call but post_event() comes from the one thread that owns the Machine (the VMM thread,
// vmm.h); devices and vCPUs only post events, which wake that thread through event_fd().
class Machine {
 public:
  enum class State { Created, Running, Paused, Stopped };

  static Result<std::unique_ptr<Machine>> create(const VmConfig& config, MachineOptions options = {});
  // A machine from a snapshot (docs/vmm/snapshot.md): the state file is read and checked, guest
  // RAM maps the memory file copy-on-write, and KVM and the devices get their saved state back.
  // Nothing runs until start(). Any failure leaves nothing behind.
  // `track_dirty_pages` (enable_diff_snapshots): the restored VM can take Diff snapshots.
  // `uffd` (mem_backend Uffd, docs/vmm/uffd.md): `mem_path` is a page-fault handler's socket and
  // guest RAM is anonymous memory that the handler fills as it is touched.
  static Result<std::unique_ptr<Machine>> restore(const std::string& state_path, const std::string& mem_path,
                                                  MachineOptions options = {}, bool track_dirty_pages = false,
                                                  bool uffd = false);
  // The same from a decoded state and guest RAM already filled (a live migration's: its RAM
  // came over the stream; docs/vmm/migration.md). The same checks as a snapshot load.
  static Result<std::unique_ptr<Machine>> restore(const snapshot::MachineState& state, GuestMemory memory,
                                                  MachineOptions options = {}, bool track_dirty_pages = false);
  // restore() in two steps, for a live migration's receiver, which knows the configuration long
  // before the state: the machine built on `memory` (whose pages may still be arriving: nothing
  // runs), then the state put in (the same checks as restore(); the state's configuration must
  // be the one the machine was built from, which the caller checks).
  static Result<std::unique_ptr<Machine>> prepare_restore(VmConfig config, GuestMemory memory, MachineOptions options = {});
  Result<void> load_state(const snapshot::MachineState& state);
  ~Machine();

  // Starts the vCPU threads. `before_guest_runs` runs on this thread once they have started and
  // before any of them runs a guest instruction (the VMM thread loads its seccomp filter there).
  // With `paused`, the vCPUs park before their first instruction (a restored VM without resume_vm).
  Result<void> start(const std::function<void(Machine&)>& before_guest_runs = {}, bool paused = false);
  // Writes a paused VM's state and memory (PUT /snapshot/create, snapshot_type Full).
  // With `diff` (snapshot_type Diff; needs track_dirty_pages) the memory file holds only the pages
  // written since the previous snapshot of this VM (or since it started).
  Result<void> snapshot(const std::string& state_path, const std::string& mem_path, bool diff = false);
  // A paused VM's state, encoded as a snapshot's state file (snapshot(), live migration).
  Result<std::vector<uint8_t>> encode_state();
  // Whether this VM can move to another process on this host (its taps and vsock socket cannot).
  Result<void> check_migratable() const;
  // This VM as the source of a live migration (machine_migration.cc); lives as long as the Machine.
  // `pagemap_fd`: /proc/self/pagemap opened for reading (-1: none), to skip never-touched RAM.
  std::unique_ptr<migration::VmSource> migration_source(int pagemap_fd = -1);
  Result<void> pause();
  Result<void> resume();
  // Types Ctrl+Alt+Del on the i8042 keyboard (IRQ 1): Linux then runs its ctrl-alt-del action.
  Result<void> send_ctrl_alt_del();
  // Asks the machine to stop with this event (first event wins). Any thread.
  void post_event(VmEvent event);
  // Readable (POLLIN) once an event was posted: the owner then calls take_event().
  int event_fd() const;
  // Stops and joins the vCPUs and returns the deciding event (a panic seen on the console wins
  // over the reboot or power-off that follows it). With on_reboot: restart, a guest reboot builds
  // and boots a fresh VM (same configuration, same console) and returns nullopt instead, until
  // begin_shutdown() was called. nullopt too when no event is pending.
  std::optional<VmEvent> take_event();
  // From now on a guest reboot ends the VM (SIGTERM: Ctrl+Alt+Del must not restart it).
  void begin_shutdown();

  // Replaces a running device's rate limiter (PATCH /drives, /network-interfaces): `device` is
  // "drive/<drive_id>" or "net/<iface_id>", `which` as VirtioMmioDevice::set_rate_limiter. The
  // change outlives a restart (on_reboot: restart).
  Result<void> set_rate_limiter(const std::string& device, std::string_view which,
                                const std::optional<RateLimiterConfig>& config);

  // A drive's backing-file allowlist for its next open (a restart, a load of the next snapshot);
  // the open drive is untouched (machine_backing.cc).
  Result<void> set_backing_files(const std::string& drive_id, const std::vector<std::string>& files);
  // The balloon (machine_balloon.cc, docs/vmm/balloon.md): nullptr when the VM has none. A new
  // target or statistics interval is kept in the configuration too (restarts, snapshots).
  virtio::BalloonControl* balloon() const;
  Result<void> set_balloon_target(uint32_t amount_mib);
  Result<void> set_balloon_stats_interval(uint32_t seconds);

  // The watchdog (machine_watchdog.cc, docs/vmm/watchdog.md), when configured. The owner polls
  // watchdog_fd() (readable when the guest moved the deadline earlier; -1 without a watchdog),
  // sleeps at most until watchdog_deadline(), and calls check_watchdog() on every wake-up: on an
  // expiry it logs and acts (posts a Watchdog event, pauses the VM, or only counts).
  int watchdog_fd() const;
  std::optional<std::chrono::steady_clock::time_point> watchdog_deadline() const;
  void check_watchdog();

  State state() const;
  const VmConfig& config() const { return config_; }
  // Uffd restores: poll for POLLIN | POLLRDHUP; ready once the page-fault handler is gone (-1
  // without one). Then memory_backend_lost(revents) ends the process: pages it never served can
  // no longer be filled, and a vCPU or device thread waiting for one could not be stopped.
  int memory_watch_fd() const;
  [[noreturn]] void memory_backend_lost(short revents);
  Serial& serial() { return *serial_; }
  json::Json metrics() const;
  // "memory" in metrics(): page size, huge pages, KSM's sharing (docs/vmm/memory.md).
  json::Json memory_metrics() const;
  static int exit_code(const VmEvent& event);

  struct Impl;
  class RelayLine;

 private:
  Machine(VmConfig config, MachineOptions options);
  Result<std::unique_ptr<Impl>> build();
  Result<std::unique_ptr<Impl>> build_restored(GuestMemory memory);
  Result<void> restart();
  void stop_vcpus();

  VmConfig config_;  // set_rate_limiter() updates it for the next restart
  const MachineOptions options_;
  std::shared_ptr<RelayLine> com1_relay_;
  std::shared_ptr<Serial> serial_;
  std::unique_ptr<Impl> impl_;  // one incarnation of the VM; rebuilt by restart()
  uint64_t reboots_ = 0;
  uint64_t watchdog_expirations_ = 0;  // across restarts
  bool stopping_ = false;
};

const char* to_string(Machine::State state);

}  // namespace vessel::vmm
