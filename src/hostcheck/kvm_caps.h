// The KVM capabilities the host check asks /dev/kvm about, and why vessel cares about each.
#pragma once

#include <linux/kvm.h>

namespace vessel::hostcheck {

struct KvmCap {
  const char* name;
  long cap;
  bool required;
  const char* why;
};

inline constexpr KvmCap kKvmCaps[] = {
    {"irqchip", KVM_CAP_IRQCHIP, true, "in-kernel interrupt controllers"},
    {"user memory", KVM_CAP_USER_MEMORY, true, "guest RAM mapped from the VMM"},
    {"ioeventfd", KVM_CAP_IOEVENTFD, true, "virtio notifications without a userspace exit"},
    {"irqfd", KVM_CAP_IRQFD, true, "device interrupts from any thread"},
    {"immediate exit", KVM_CAP_IMMEDIATE_EXIT, false, "race-free vCPU pause"},
    {"x2apic api", KVM_CAP_X2APIC_API, false, "x2APIC ids beyond 255"},
    {"split irqchip", KVM_CAP_SPLIT_IRQCHIP, false, "IOAPIC in userspace"},
    {"tsc control", KVM_CAP_TSC_CONTROL, false, "stable TSC frequency across snapshot/restore"},
    {"dirty log ring", KVM_CAP_DIRTY_LOG_RING, false, "fast live migration"},
    {"manual dirty log protect", KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, false, "incremental snapshots"},
    {"pit2", KVM_CAP_PIT2, false, "in-kernel i8254 timer"},
    {"adjust clock", KVM_CAP_ADJUST_CLOCK, false, "kvmclock kept across pause and restore"},
    {"readonly memory", KVM_CAP_READONLY_MEM, false, "ROM regions"},
    {"max vCPUs", KVM_CAP_MAX_VCPUS, false, ""},
    {"recommended vCPUs", KVM_CAP_NR_VCPUS, false, ""},
};

}  // namespace vessel::hostcheck
