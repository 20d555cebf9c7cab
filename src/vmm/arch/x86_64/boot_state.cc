#include "vmm/arch/x86_64/boot_state.h"

#include <cstring>

#include "base/fd.h"
#include "vmm/arch/x86_64/layout.h"

namespace vessel::vmm::x86 {
namespace {

constexpr uint32_t kPvhMagic = 0x336ec578;
constexpr uint64_t kPageRw = 0x2, kPagePresent = 0x1, kPageUser = 0x4, kPageHuge = 0x80;

// Boot GDT: 0x08 code32 (PVH), 0x10 code64, 0x18 data, 0x20 TSS placeholder.
constexpr uint64_t kGdt[] = {0, 0x00cf9b000000ffff, 0x00af9b000000ffff, 0x00cf93000000ffff,
                             0x008f89000000ffff};
constexpr uint16_t kSelCode32 = 0x08, kSelCode64 = 0x10, kSelData = 0x18, kSelTss = 0x20;

kvm_segment segment_from_gdt(uint64_t desc, uint16_t selector) {
  kvm_segment s{};
  s.selector = selector;
  s.base = ((desc >> 16) & 0xffffff) | (((desc >> 56) & 0xff) << 24);
  uint32_t limit = static_cast<uint32_t>((desc & 0xffff) | (((desc >> 48) & 0xf) << 16));
  s.g = (desc >> 55) & 1;
  s.limit = s.g ? (limit << 12) | 0xfff : limit;
  s.type = (desc >> 40) & 0xf;
  s.s = (desc >> 44) & 1;
  s.dpl = (desc >> 45) & 3;
  s.present = (desc >> 47) & 1;
  s.avl = (desc >> 52) & 1;
  s.l = (desc >> 53) & 1;
  s.db = (desc >> 54) & 1;
  return s;
}

Result<void> write_page_tables(const GuestMemory& memory) {
  uint64_t flags = kPagePresent | kPageRw | kPageUser;
  TRY(memory.write_obj<uint64_t>(kPml4, kPdpt | flags));
  for (uint64_t i = 0; i < 4; ++i) TRY(memory.write_obj<uint64_t>(kPdpt + i * 8, (kPd + i * 0x1000) | flags));
  for (uint64_t i = 0; i < 4 * 512; ++i)
    TRY(memory.write_obj<uint64_t>(kPd + i * 8, (i << 21) | flags | kPageHuge));
  return {};
}

struct __attribute__((packed)) HvmStartInfo {
  uint32_t magic, version, flags, nr_modules;
  uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
  uint32_t memmap_entries, reserved;
};
struct __attribute__((packed)) HvmModlistEntry {
  uint64_t paddr, size, cmdline_paddr, reserved;
};
struct __attribute__((packed)) HvmMemmapEntry {
  uint64_t addr, size;
  uint32_t type, reserved;
};
struct __attribute__((packed)) BootE820Entry {
  uint64_t addr, size;
  uint32_t type;
};

Result<void> write_pvh_info(const GuestMemory& memory, const BootData& data) {
  auto map = memory_map(memory);
  HvmStartInfo si{};
  si.magic = kPvhMagic;
  si.version = 1;
  si.cmdline_paddr = kCmdline;
  si.rsdp_paddr = data.rsdp;
  si.memmap_paddr = kPvhMemmap;
  si.memmap_entries = static_cast<uint32_t>(map.size());
  if (data.initrd) {
    uint64_t modlist = kPvhStartInfo + 0x80;
    TRY(memory.write_obj(modlist, HvmModlistEntry{data.initrd->addr, data.initrd->size, 0, 0}));
    si.nr_modules = 1;
    si.modlist_paddr = modlist;
  }
  TRY(memory.write_obj(kPvhStartInfo, si));
  for (size_t i = 0; i < map.size(); ++i)
    TRY(memory.write_obj(kPvhMemmap + i * sizeof(HvmMemmapEntry), HvmMemmapEntry{map[i].addr, map[i].size, map[i].type, 0}));
  return {};
}

Result<void> write_boot_params(const GuestMemory& memory, const LoadedKernel& kernel, const BootData& data) {
  std::vector<uint8_t> zp(4096, 0);
  auto set = [&](size_t off, const void* p, size_t n) { std::memcpy(zp.data() + off, p, n); };
  if (!kernel.setup_header.empty()) set(0x1f1, kernel.setup_header.data(), kernel.setup_header.size());
  uint8_t loader_type = 0xff;  // undefined boot loader
  set(0x210, &loader_type, 1);
  uint8_t loadflags = zp[0x211] | 0x80;  // CAN_USE_HEAP
  set(0x211, &loadflags, 1);
  uint16_t heap_end = 0xfe00;
  set(0x224, &heap_end, 2);
  uint32_t cmd = static_cast<uint32_t>(kCmdline);
  set(0x228, &cmd, 4);
  uint32_t cmd_size = static_cast<uint32_t>(data.cmdline.size());
  set(0x238, &cmd_size, 4);
  if (data.initrd) {
    uint32_t lo = static_cast<uint32_t>(data.initrd->addr), size = static_cast<uint32_t>(data.initrd->size);
    uint32_t hi = static_cast<uint32_t>(data.initrd->addr >> 32), size_hi = static_cast<uint32_t>(data.initrd->size >> 32);
    set(0x218, &lo, 4);
    set(0x21c, &size, 4);
    set(0x0c0, &hi, 4);
    set(0x0c4, &size_hi, 4);
  }
  set(0x070, &data.rsdp, 8);  // acpi_rsdp_addr
  auto map = memory_map(memory);
  if (map.size() > 128) return fail(E2BIG, "e820 map has {} entries (max 128)", map.size());
  uint8_t n = static_cast<uint8_t>(map.size());
  set(0x1e8, &n, 1);
  for (size_t i = 0; i < map.size(); ++i) {
    BootE820Entry e{map[i].addr, map[i].size, map[i].type};
    set(0x2d0 + i * sizeof e, &e, sizeof e);
  }
  return memory.write(kZeroPage, zp.data(), zp.size());
}

}  // namespace

std::vector<E820Entry> memory_map(const GuestMemory& memory) {
  std::vector<E820Entry> map;
  uint64_t low_end = memory.regions()[0].size;
  map.push_back({0, kEbdaStart, 1});
  map.push_back({kEbdaStart, kHighMemory - kEbdaStart, 2});
  if (low_end > kHighMemory) map.push_back({kHighMemory, low_end - kHighMemory, 1});
  for (size_t i = 1; i < memory.regions().size(); ++i)
    map.push_back({memory.regions()[i].guest_base, memory.regions()[i].size, 1});
  return map;
}

Result<InitrdPlacement> load_initrd(const GuestMemory& memory, const std::string& path,
                                    uint64_t kernel_end, uint64_t max_addr) {
  auto content = TRY_CTX(read_file(path), "read initrd {}", path);
  uint64_t top = std::min<uint64_t>(memory.regions()[0].size, max_addr ? max_addr + 1 : UINT64_MAX);
  uint64_t size = content.size();
  if (size == 0) return fail(EINVAL, "initrd {} is empty", path);
  if (size > top || ((top - size) & ~0xfffull) < ((kernel_end + 0xfff) & ~0xfffull))
    return Unexpected(Error(ENOSPC, fmt::format("initrd {} ({} MiB) does not fit in low memory above the kernel",
                                                path, size >> 20))
                          .with_hint("give the VM more memory (mem_size_mib)"));
  uint64_t addr = (top - size) & ~0xfffull;
  TRY(memory.write(addr, content.data(), size));
  return InitrdPlacement{addr, size};
}

Result<void> write_boot_data(const GuestMemory& memory, const LoadedKernel& kernel, const BootData& data) {
  if (data.cmdline.size() + 1 > kCmdlineMax)
    return fail(E2BIG, "kernel command line is {} bytes (max {})", data.cmdline.size(), kCmdlineMax - 1);
  TRY(memory.write(kCmdline, data.cmdline.c_str(), data.cmdline.size() + 1));
  TRY(memory.write(kBootGdt, kGdt, sizeof kGdt));
  TRY(write_page_tables(memory));
  if (kernel.protocol == BootProtocol::Pvh) return write_pvh_info(memory, data);
  return write_boot_params(memory, kernel, data);
}

Result<void> setup_boot_vcpu(kvm::Vcpu& vcpu, const LoadedKernel& kernel) {
  kvm_sregs sregs = TRY(vcpu.get_sregs());
  sregs.gdt.base = kBootGdt;
  sregs.gdt.limit = sizeof kGdt - 1;
  sregs.idt.base = 0;
  sregs.idt.limit = 0;
  kvm_segment data = segment_from_gdt(kGdt[3], kSelData);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
  sregs.tr = segment_from_gdt(kGdt[4], kSelTss);
  sregs.tr.type = 11;  // busy 32/64-bit TSS
  kvm_regs regs{};
  regs.rflags = 0x2;
  regs.rip = kernel.entry;
  if (kernel.protocol == BootProtocol::Pvh) {
    sregs.cs = segment_from_gdt(kGdt[1], kSelCode32);
    sregs.cr0 = 0x11;  // PE | ET
    sregs.cr4 = 0;
    sregs.efer = 0;
    regs.rbx = kPvhStartInfo;
  } else {
    sregs.cs = segment_from_gdt(kGdt[2], kSelCode64);
    sregs.cr0 = 0x80050033;  // PG | WP | NE | ET | MP | PE
    sregs.cr3 = kPml4;
    sregs.cr4 = 0x20;        // PAE
    sregs.efer = 0x500;      // LME | LMA
    regs.rsi = kZeroPage;
    regs.rsp = kBootStack;
    regs.rbp = kBootStack;
  }
  TRY(vcpu.set_sregs(sregs));
  TRY(vcpu.set_regs(regs));
  return {};
}

Result<void> setup_fpu_and_msrs(kvm::Vcpu& vcpu) {
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;
  fpu.mxcsr = 0x1f80;
  TRY(vcpu.set_fpu(fpu));
  std::vector<kvm_msr_entry> msrs = {
      {0x174, 0, 0},                 // SYSENTER_CS
      {0x175, 0, 0},                 // SYSENTER_ESP
      {0x176, 0, 0},                 // SYSENTER_EIP
      {0xc0000081, 0, 0},            // STAR
      {0xc0000082, 0, 0},            // LSTAR
      {0xc0000084, 0, 0},            // SYSCALL_MASK
      {0xc0000102, 0, 0},            // KERNEL_GS_BASE
      {0x1a0, 0, 1},                 // MISC_ENABLE: fast strings
      {0x2ff, 0, (1u << 11) | 6},    // MTRR default type: enabled, write-back
  };
  for (const auto& m : msrs) {
    // Some KVMs (PVM) refuse a few of these; skip them one by one rather than fail the boot.
    (void)vcpu.set_msrs({m});
  }
  return {};
}

Result<void> setup_lapic(kvm::Vcpu& vcpu) {
  kvm_lapic_state lapic = TRY(vcpu.get_lapic());
  auto reg = [&](size_t off) -> uint32_t* { return reinterpret_cast<uint32_t*>(lapic.regs + off); };
  constexpr size_t kLvtLint0 = 0x350, kLvtLint1 = 0x360;
  *reg(kLvtLint0) = (*reg(kLvtLint0) & ~0x700u) | (7u << 8);  // ExtINT
  *reg(kLvtLint1) = (*reg(kLvtLint1) & ~0x700u) | (4u << 8);  // NMI
  return vcpu.set_lapic(lapic);
}

}  // namespace vessel::vmm::x86
