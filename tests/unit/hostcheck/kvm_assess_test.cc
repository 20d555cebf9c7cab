// The host check's KVM verdict from recorded facts of the machines vessel meets (no root, no
// /dev/kvm needed): which flavour really serves /dev/kvm, whether VMs can run, and whether the
// advice fits the machine (never modprobe where modules cannot be loaded).
//
//  A: the machine: a PVM guest kernel under bhyve, no VMX/SVM, kvm_pvm built in but
//     refusing to bind ("this kernel is itself a kvm-pvm guest; not binding"), no /dev/kvm,
//     `nomodule`, no /lib/modules of its own.
//  B: this project's machine as recorded on 2026-12-04: the same kind of kernel under KVM, kvm_pvm
//     loaded (native=1) and bound, /dev/kvm works.
//  C: the nested KVM host (scripts/kvm-host): Debian's kernel under QEMU TCG with SVM, kvm_amd.
//  D: bare metal with VT-x and kvm_intel.
#include "hostcheck/kvm_assess.h"

#include <gtest/gtest.h>
#include <linux/kvm.h>

#include "hostcheck/host_check.h"
#include "hostcheck/kernel_log.h"
#include "hostcheck/kvm_caps.h"

namespace vessel::hostcheck {
namespace {

const char* kFcCmdline =
    "mitigations=auto,no_guest_host,no_guest_guest console=ttyS0 quiet reboot=k panic=1 nomodule "
    "random.trust_cpu=1 swiotlb=noforce psi=1 nvproxy.enable=1 "
    "page_reporting.page_reporting_order=11 "
    "deferred_init=lazy nested_pvm=1 rcupdate.rcu_cpu_stall_cputime=1 cpuidle_haltpoll.force=1 "
    "haltpoll.guest_halt_poll_ns=0 sched_vcpu_pack=15 rdinit=/process_api -- --firecracker-init "
    "--addr 0.0.0.0:2024";

CpuInfo epyc_guest(const char* hypervisor_signature) {
  CpuInfo c;
  c.vendor = "AuthenticAMD";
  c.model_name = "AMD EPYC";
  c.hypervisor = true;
  c.hypervisor_vendor = hypervisor_signature;
  c.x2apic = true;
  return c;
}

// What a working /dev/kvm answered on this machine (B).
DevKvmFacts working_dev_kvm() {
  DevKvmFacts d;
  d.exists = d.char_device = true;
  d.major = 10;
  d.minor = 232;
  d.mode = 0660;
  d.gid = 107;
  d.open = d.api_version = d.create_vm = ProbeStep::success();
  for (const auto& c : kKvmCaps) d.extensions[c.cap] = 1;
  d.extensions[KVM_CAP_TSC_CONTROL] = 0;
  d.extensions[KVM_CAP_MAX_VCPUS] = 1024;
  d.extensions[KVM_CAP_NR_VCPUS] = 2;
  return d;
}

HostFacts machine_a_pvm_guest_under_bhyve() {
  HostFacts f;
  f.cpu = epyc_guest("bhyve bhyve");
  f.kernel.release = "6.18.44-fc-v1252";
  f.kernel.cmdline = kFcCmdline;
  f.kernel.modules_dir = false;
  f.kernel.sys_modules = {"kvm", "kvm_pvm"};
  f.kernel.log = std::vector<std::string>{
      "Hypervisor detected: bhyve", "kvm-pvm: this kernel is itself a kvm-pvm guest; not binding"};
  return f;  // no /dev/kvm
}

HostFacts machine_b_pvm_host_under_kvm() {
  HostFacts f;
  f.cpu = epyc_guest("KVMKVMKVM");
  f.kernel.release = "6.18.44-fc-v1252";
  f.kernel.cmdline = kFcCmdline;
  f.kernel.modules_dir = false;  // /lib/modules has only 6.1.0-57-amd64 (for the nested host)
  f.kernel.sys_modules = {"kvm", "kvm_pvm"};
  f.kernel.log = std::vector<std::string>{
      "Hypervisor detected: KVM",
      "kvm-pvm: mmio caching disabled (nested host: reported MAXPHYADDR 48 may be narrower than "
      "the page walk)",
      "kvm-pvm: loaded (native=1 pcid=1 pge_off=1 emul_batch=1024 emul_ibpb=0)",
      "kvm-pvm: INTERNAL_ERROR in batch emul: rip=0x100d72 cpl=0 cr3=0x103000"};
  f.kvm = working_dev_kvm();
  return f;
}

HostFacts machine_c_nested_kvm_host() {
  HostFacts f;
  f.cpu = epyc_guest("TCGTCGTCGTCG");
  f.cpu.model_name = "QEMU TCG CPU version 2.5+";
  f.cpu.svm = true;
  f.kernel.release = "6.1.0-57-amd64";
  f.kernel.cmdline = "console=ttyS0 panic=-1 quiet";
  f.kernel.modules_dir = true;
  f.kernel.sys_modules = {"kvm", "kvm_amd"};
  f.kernel.log = std::vector<std::string>{
      "Hypervisor detected: KVM", "kvm_amd: TSC scaling supported",
      "kvm_amd: Nested Virtualization enabled", "kvm_amd: Nested Paging enabled"};
  f.kvm = working_dev_kvm();
  return f;
}

HostFacts machine_d_bare_metal_vtx() {
  HostFacts f;
  f.cpu.vendor = "GenuineIntel";
  f.cpu.model_name = "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz";
  f.cpu.vmx = true;
  f.kernel.release = "6.1.0-57-amd64";
  f.kernel.cmdline = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-57-amd64 root=/dev/sda1 ro quiet";
  f.kernel.modules_dir = true;
  f.kernel.sys_modules = {"kvm", "kvm_intel"};
  f.kernel.log = std::vector<std::string>{};
  f.kvm = working_dev_kvm();
  return f;
}

const Check* find(const Report& r, const std::string& name) {
  for (const auto& c : r.checks)
    if (c.name == name) return &c;
  return nullptr;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

bool mentions(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(KvmAssess, MachineA_PvmGuestUnderBhyveCannotRunVmsAndSaysWhy) {
  Report r = report_from(machine_a_pvm_guest_under_bhyve());
  EXPECT_FALSE(r.vms_ok);
  EXPECT_EQ(r.kvm_flavour, "none");
  EXPECT_EQ(r.kvm_pvm_state, "not bound");
  EXPECT_TRUE(mentions(r.kvm_pvm_reason, "this kernel is itself a kvm-pvm guest; not binding"))
      << r.kvm_pvm_reason;
  EXPECT_FALSE(r.modules_loadable);
  EXPECT_TRUE(mentions(r.modules_why_not, "nomodule")) << r.modules_why_not;
  EXPECT_TRUE(mentions(r.modules_why_not, "/lib/modules/6.18.44-fc-v1252")) << r.modules_why_not;

  ASSERT_EQ(r.vm_problems.size(), 1u);
  EXPECT_TRUE(mentions(r.vm_problems[0], "/dev/kvm: missing")) << r.vm_problems[0];
  EXPECT_TRUE(mentions(r.vm_problems[0], "no VMX/SVM visible")) << r.vm_problems[0];
  EXPECT_TRUE(mentions(r.vm_problems[0], "not binding")) << r.vm_problems[0];

  std::string advice = joined(r.vm_advice);
  EXPECT_TRUE(mentions(advice, "VT-x or AMD-V")) << advice;
  EXPECT_TRUE(mentions(advice, "bhyve")) << advice;
  EXPECT_TRUE(mentions(advice, "scripts/kvm-host")) << advice;
  EXPECT_FALSE(mentions(advice, "modprobe")) << advice;
  for (const auto& c : r.checks)
    EXPECT_FALSE(mentions(c.note, "modprobe")) << c.name << ": " << c.note;

  EXPECT_EQ(find(r, "hardware virtualization")->value, "none visible");
  EXPECT_EQ(find(r, "running under a hypervisor")->value,
            "yes (bhyve; CPUID signature \"bhyve bhyve\")");
  EXPECT_EQ(find(r, "kvm_pvm")->value, "present, not bound");
  EXPECT_EQ(find(r, "module flavour")->value, "none (kvm_pvm present, not bound)");
  EXPECT_EQ(find(r, "open /dev/kvm read-write"), nullptr);  // nothing to open

  auto j = r.to_json();
  EXPECT_FALSE(j["vms"]["ok"].get<bool>());
  EXPECT_EQ(j["kvm_flavour"], "none");
  EXPECT_EQ(j["kvm_pvm"]["state"], "not bound");
  EXPECT_EQ(j["cpu"]["hypervisor_name"], "bhyve");
  EXPECT_EQ(j["vms"]["advice"].size(), r.vm_advice.size());
  EXPECT_FALSE(j["kernel_modules"]["loadable"].get<bool>());

  std::string table = r.to_table(false);
  EXPECT_TRUE(mentions(table, "VMs:        cannot run")) << table;
  EXPECT_TRUE(mentions(table, "KVM:        none (kvm_pvm present, not bound)")) << table;
  EXPECT_TRUE(mentions(table, "what to do:")) << table;
  EXPECT_TRUE(mentions(table, "scripts/kvm-host")) << table;
}

TEST(KvmAssess, MachineA_WithoutTheKernelLogTheReasonIsUnknown) {
  HostFacts f = machine_a_pvm_guest_under_bhyve();
  f.kernel.log.reset();  // not root, dmesg_restrict=1
  Report r = report_from(f);
  EXPECT_FALSE(r.vms_ok);
  EXPECT_EQ(r.kvm_pvm_state, "not bound");
  EXPECT_TRUE(mentions(r.kvm_pvm_reason, "unknown")) << r.kvm_pvm_reason;
  EXPECT_TRUE(mentions(r.kvm_pvm_reason, "kernel log cannot be read")) << r.kvm_pvm_reason;
}

TEST(KvmAssess, MachineA_ADevKvmThatDoesNotOpenIsNotBound) {
  HostFacts f = machine_a_pvm_guest_under_bhyve();
  f.kvm.exists = f.kvm.char_device = true;
  f.kvm.major = 10;
  f.kvm.minor = 232;
  f.kvm.mode = 0660;
  f.kvm.open = ProbeStep::failure(ENODEV, "cannot open /dev/kvm: No such device");
  Report r = report_from(f);
  EXPECT_FALSE(r.vms_ok);
  EXPECT_EQ(r.kvm_flavour, "none");
  EXPECT_EQ(r.kvm_pvm_state, "not bound");
  const Check* open = find(r, "open /dev/kvm read-write");
  ASSERT_NE(open, nullptr);
  EXPECT_FALSE(open->ok);
  EXPECT_TRUE(mentions(open->note, "not binding")) << open->note;
  EXPECT_FALSE(mentions(open->note, "group")) << open->note;  // not a permission problem
  EXPECT_FALSE(mentions(joined(r.vm_advice), "modprobe"));
  EXPECT_TRUE(mentions(joined(r.vm_advice), "scripts/kvm-host"));
}

TEST(KvmAssess, MachineB_PvmBoundRunsVms) {
  Report r = report_from(machine_b_pvm_host_under_kvm());
  EXPECT_TRUE(r.vms_ok) << r.to_table(false);
  EXPECT_EQ(r.kvm_flavour, "kvm_pvm");
  EXPECT_EQ(r.kvm_pvm_state, "bound");
  EXPECT_TRUE(r.vm_problems.empty());
  EXPECT_TRUE(r.vm_advice.empty());
  EXPECT_FALSE(r.modules_loadable);  // nomodule, and no /lib/modules/6.18.44-fc-v1252
  EXPECT_EQ(find(r, "running under a hypervisor")->value,
            "yes (KVM; CPUID signature \"KVMKVMKVM\")");
  EXPECT_TRUE(mentions(find(r, "module flavour")->note, "ring-0"));
  EXPECT_TRUE(mentions(find(r, "hardware virtualization")->note, "through kvm_pvm"));
  auto j = r.to_json();
  EXPECT_TRUE(j["vms"]["ok"].get<bool>());
  EXPECT_EQ(j["kvm_flavour"], "kvm_pvm");
  EXPECT_TRUE(j["vms"]["advice"].empty());
  EXPECT_TRUE(mentions(r.to_table(false), "KVM:        kvm_pvm"));
}

TEST(KvmAssess, MachineB_IfCreatingAVmFailsPvmIsNotClaimed) {
  HostFacts f = machine_b_pvm_host_under_kvm();
  f.kvm.create_vm = ProbeStep::failure(ENOMEM, "KVM_CREATE_VM: Cannot allocate memory");
  Report r = report_from(f);
  EXPECT_FALSE(r.vms_ok);
  EXPECT_EQ(r.kvm_flavour, "none");
  EXPECT_EQ(r.kvm_pvm_state, "not bound");
  std::string advice = joined(r.vm_advice);
  EXPECT_TRUE(mentions(advice, "scripts/kvm-host")) << advice;
  EXPECT_FALSE(mentions(advice, "modprobe")) << advice;
}

TEST(KvmAssess, MachineB_NullDeviceOverDevKvmIsNotKvm) {
  // What the daemon test sets up: /dev/null bind-mounted over /dev/kvm in a mount namespace.
  HostFacts f = machine_b_pvm_host_under_kvm();
  f.kvm = DevKvmFacts{};
  f.kvm.exists = f.kvm.char_device = true;
  f.kvm.major = 1;
  f.kvm.minor = 3;
  f.kvm.mode = 0666;
  f.kvm.open = ProbeStep::success();
  f.kvm.api_version = ProbeStep::failure(ENOTSUP, "KVM API version -1 (need 12)");
  Report r = report_from(f);
  EXPECT_FALSE(r.vms_ok);
  EXPECT_EQ(r.kvm_flavour, "none");
  ASSERT_FALSE(r.vm_problems.empty());
  EXPECT_TRUE(mentions(r.vm_problems[0], "not the KVM device")) << r.vm_problems[0];
  EXPECT_TRUE(mentions(joined(r.vm_advice), "char 1:3")) << joined(r.vm_advice);
  EXPECT_EQ(r.kvm_pvm_state, "not bound");
  EXPECT_TRUE(
      mentions(r.kvm_pvm_reason, "it loaded (the kernel log says \"kvm-pvm: loaded (native=1"))
      << r.kvm_pvm_reason;
}

TEST(KvmAssess, MachineC_NestedKvmHostIsHardwareAssistedAtEmulationSpeed) {
  Report r = report_from(machine_c_nested_kvm_host());
  EXPECT_TRUE(r.vms_ok) << r.to_table(false);
  EXPECT_EQ(r.kvm_flavour, "kvm_amd");
  EXPECT_EQ(r.kvm_pvm_state, "absent");
  EXPECT_EQ(find(r, "kvm_pvm"), nullptr);
  EXPECT_TRUE(r.modules_loadable);
  EXPECT_EQ(find(r, "hardware virtualization")->value, "AMD-V (svm)");
  EXPECT_EQ(find(r, "running under a hypervisor")->value,
            "yes (QEMU TCG; CPUID signature \"TCGTCGTCGTCG\")");
  EXPECT_TRUE(mentions(find(r, "module flavour")->note, "emulation speed"));
}

TEST(KvmAssess, MachineD_BareMetalVtx) {
  Report r = report_from(machine_d_bare_metal_vtx());
  EXPECT_TRUE(r.vms_ok) << r.to_table(false);
  EXPECT_EQ(r.kvm_flavour, "kvm_intel");
  EXPECT_EQ(find(r, "running under a hypervisor")->value, "no (bare metal)");
  EXPECT_EQ(find(r, "module flavour")->note, "hardware-assisted: guests run at native speed");
}

TEST(KvmAssess, MachineD_WithoutTheModuleSaysModprobe) {
  HostFacts f = machine_d_bare_metal_vtx();
  f.kvm = DevKvmFacts{};
  f.kernel.sys_modules.clear();
  Report r = report_from(f);
  EXPECT_FALSE(r.vms_ok);
  EXPECT_EQ(r.kvm_flavour, "none");
  ASSERT_EQ(r.vm_advice.size(), 1u);
  EXPECT_EQ(r.vm_advice[0], "load the KVM module for this CPU: modprobe kvm_intel");
  EXPECT_TRUE(mentions(r.vm_problems[0], "kvm_intel is not loaded")) << r.vm_problems[0];
}

TEST(KvmAssess, MachineD_NomoduleKernelNeverSaysModprobe) {
  HostFacts f = machine_d_bare_metal_vtx();
  f.kvm = DevKvmFacts{};
  f.kernel.sys_modules.clear();
  f.kernel.cmdline += " nomodule";
  Report r = report_from(f);
  EXPECT_FALSE(r.vms_ok);
  std::string advice = joined(r.vm_advice);
  EXPECT_FALSE(mentions(advice, "modprobe")) << advice;
  EXPECT_TRUE(mentions(advice, "boot a kernel that has kvm_intel")) << advice;
  EXPECT_TRUE(mentions(advice, "scripts/kvm-host")) << advice;
  EXPECT_TRUE(
      mentions(r.vm_problems[0], "cannot load modules (nomodule on the kernel command line)"))
      << r.vm_problems[0];
}

TEST(KvmAssess, NomoduleAfterTheInitSeparatorDoesNotCount) {
  HostFacts f = machine_d_bare_metal_vtx();
  f.kernel.cmdline += " -- nomodule";
  EXPECT_TRUE(report_from(f).modules_loadable);
}

TEST(KvmAssess, PermissionDeniedSaysTheGroup) {
  HostFacts f = machine_d_bare_metal_vtx();
  f.kvm.open = ProbeStep::failure(EACCES, "cannot open /dev/kvm: Permission denied");
  f.kvm.api_version = f.kvm.create_vm = ProbeStep{};
  f.kvm.extensions.clear();
  Report r = report_from(f);
  EXPECT_FALSE(r.vms_ok);
  EXPECT_EQ(r.kvm_flavour, "none");
  ASSERT_EQ(r.vm_advice.size(), 1u);
  EXPECT_TRUE(mentions(r.vm_advice[0], "group owning /dev/kvm (gid 107)")) << r.vm_advice[0];
}

TEST(KvmAssess, MachineB_AsAUserOutsideTheKvmGroupPvmIsUnverified) {
  HostFacts f = machine_b_pvm_host_under_kvm();
  f.kernel.log.reset();
  f.kvm.open = ProbeStep::failure(EACCES, "cannot open /dev/kvm: Permission denied");
  f.kvm.api_version = f.kvm.create_vm = ProbeStep{};
  f.kvm.extensions.clear();
  Report r = report_from(f);
  EXPECT_FALSE(r.vms_ok);
  EXPECT_EQ(r.kvm_flavour, "none");
  EXPECT_EQ(r.kvm_pvm_state, "unverified");
  ASSERT_EQ(r.vm_advice.size(), 1u)
      << joined(r.vm_advice);  // no nested-host detour for a permission
  EXPECT_TRUE(mentions(r.vm_advice[0], "group owning /dev/kvm (gid 107)")) << r.vm_advice[0];
  EXPECT_TRUE(mentions(r.to_table(false), "KVM:        none (kvm_pvm present, unverified)"));
}

TEST(KernelLog, RecordTextWithoutPrefixes) {
  EXPECT_EQ(kernel_log_text("6,339,373772,-;kvm-pvm: loaded (native=1)\n"),
            "kvm-pvm: loaded (native=1)");
  EXPECT_EQ(kernel_log_text("4,340,374000,-;kvm-pvm: not binding\n SUBSYSTEM=misc\n"),
            "kvm-pvm: not binding");
  EXPECT_EQ(kernel_log_text("<6>[    0.373772] kvm-pvm: loaded"), "kvm-pvm: loaded");
  EXPECT_EQ(kernel_log_text("plain text"), "plain text");
}

}  // namespace
}  // namespace vessel::hostcheck
