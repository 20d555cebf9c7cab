// Everything a snapshot's state file holds about a paused VM (docs/vmm/snapshot.md), and its
// encoding into versioned sections (state_file.h). decode() is a pure function of the file's
// bytes: it checks framing, checksum, section versions, counts and sizes, and never touches KVM
// (the fuzz target tests/fuzz/snapshot calls it directly). Whether the machine fits this host
// (CPUID) is checked when it is restored.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "kvm/kvm.h"
#include "vmm/snapshot/balloon_state.h"
#include "vmm/snapshot/device_state.h"
#include "vmm/snapshot/net_state.h"
#include "vmm/snapshot/vsock_state.h"

namespace vessel::vmm::snapshot {

// Section ids and the newest version of each that this vessel-vmm writes and reads.
enum class SectionId : uint32_t { Machine = 1, Vcpu = 2, Vm = 3, Serial = 4, I8042 = 5, Virtio = 6, CmosRtc = 7,
                              Net = 8, Vsock = 9, Balloon = 10, Watchdog = 11 };

struct VcpuSnapshot {
  kvm_regs regs{};
  kvm_sregs sregs{};
  kvm::XsaveArea xsave{};
  kvm_xcrs xcrs{};
  kvm_debugregs debugregs{};
  std::vector<kvm_msr_entry> msrs;
  kvm_lapic_state lapic{};
  kvm_vcpu_events events{};
  kvm_mp_state mp_state{};
};

// The VM-wide KVM state: kvmclock, the in-kernel PICs and IOAPIC, the PIT.
struct VmSnapshot {
  kvm_clock_data clock{};
  kvm_irqchip pic_master{}, pic_slave{}, ioapic{};
  kvm_pit_state2 pit{};
};

struct MachineState {
  uint32_t vcpu_count = 0;
  uint64_t mem_size = 0;                  // bytes of guest RAM (the memory file's size)
  std::vector<kvm_cpuid_entry2> cpuid;    // vCPU 0's CPUID, as vessel-vmm set it
  std::string config;                     // the VM configuration (Firecracker's JSON shape)
  std::vector<VcpuSnapshot> vcpus;
  VmSnapshot vm;
  SerialState serial;
  I8042State i8042;
  std::vector<VirtioState> virtio;        // in the order of their MMIO windows
  // Added after the first release: absent from older snapshots, whose VM then gets a fresh clock
  // (the host's time).
  std::optional<CmosRtcState> rtc;
  // Added later still (optional): one per virtio-net device and for the virtio-vsock device, each
  // naming its virtio section by MMIO window.
  std::vector<NetState> net;
  std::optional<VsockState> vsock;
  // Later again (optional): the virtio-balloon device's, naming its virtio section by window.
  std::optional<BalloonState> balloon;
  // Later again (optional): the IB700 watchdog's, when the configuration has one.
  std::optional<WatchdogState> watchdog;
};

inline constexpr uint32_t kMaxVcpus = 32;
inline constexpr size_t kMaxCpuidEntries = 256;
inline constexpr size_t kMaxMsrs = 1024;
inline constexpr size_t kMaxVirtioDevices = 32;
inline constexpr size_t kMaxQueues = 16;
inline constexpr size_t kMaxConfigBytes = 1 << 20;

std::vector<uint8_t> encode(const MachineState& state);
Result<MachineState> decode(std::span<const uint8_t> file);

}  // namespace vessel::vmm::snapshot
