#include "vmm/arch/x86_64/loader.h"

#include <elf.h>

#include <cstring>

#include "base/fd.h"
#include "vmm/arch/x86_64/layout.h"

namespace vessel::vmm::x86 {
namespace {

constexpr uint32_t kXenElfnotePhys32Entry = 18;
constexpr uint64_t kMaxKernelFile = 512ull << 20;

template <typename T>
Result<T> read_at(std::span<const uint8_t> file, uint64_t offset) {
  if (offset > file.size() || sizeof(T) > file.size() - offset)
    return fail(EINVAL, "truncated file: {} bytes needed at offset {:#x}", sizeof(T), offset);
  T value;
  std::memcpy(&value, file.data() + offset, sizeof(T));
  return value;
}

// Copies file[offset, +len) to guest memory at gpa, both ranges checked.
Result<void> copy_to_guest(const GuestMemory& memory, std::span<const uint8_t> file, uint64_t offset,
                           uint64_t len, uint64_t gpa) {
  if (offset > file.size() || len > file.size() - offset)
    return fail(EINVAL, "segment [{:#x}, +{:#x}) lies outside the file", offset, len);
  return memory.write(gpa, file.data() + offset, len);
}

// Returns the PVH entry from a PT_NOTE segment's notes, or 0; notes a "Linux" note on the way.
Result<uint64_t> find_pvh_entry(std::span<const uint8_t> file, uint64_t offset, uint64_t size, bool* is_linux) {
  uint64_t end = offset + size;
  if (end < offset || end > file.size()) return fail(EINVAL, "ELF note segment outside the file");
  while (offset + sizeof(Elf64_Nhdr) <= end) {
    auto nhdr = TRY(read_at<Elf64_Nhdr>(file, offset));
    uint64_t name_off = offset + sizeof nhdr;
    uint64_t desc_off = name_off + ((static_cast<uint64_t>(nhdr.n_namesz) + 3) & ~3ull);
    uint64_t next = desc_off + ((static_cast<uint64_t>(nhdr.n_descsz) + 3) & ~3ull);
    if (next > end) break;
    if (nhdr.n_namesz == 6 && std::memcmp(file.data() + name_off, "Linux", 6) == 0) *is_linux = true;
    if (nhdr.n_type == kXenElfnotePhys32Entry && nhdr.n_namesz == 4 &&
        std::memcmp(file.data() + name_off, "Xen", 4) == 0) {
      if (nhdr.n_descsz == 4) return static_cast<uint64_t>(TRY(read_at<uint32_t>(file, desc_off)));
      if (nhdr.n_descsz == 8) return TRY(read_at<uint64_t>(file, desc_off));
      return fail(EINVAL, "PVH entry note has a {}-byte descriptor", nhdr.n_descsz);
    }
    offset = next;
  }
  return uint64_t{0};
}

}  // namespace

Result<LoadedKernel> load_elf_pvh(const GuestMemory& memory, std::span<const uint8_t> file) {
  auto eh = TRY(read_at<Elf64_Ehdr>(file, 0));
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return fail(EINVAL, "not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64)
    return fail(EINVAL, "not an x86-64 ELF (class {}, machine {})", eh.e_ident[EI_CLASS], eh.e_machine);
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 128)
    return fail(EINVAL, "bad ELF program header table ({} entries of {} bytes)", eh.e_phnum, eh.e_phentsize);
  LoadedKernel out{BootProtocol::Pvh};
  // First the note: without it there is nothing to boot, whatever the segments look like.
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    auto ph = TRY(read_at<Elf64_Phdr>(file, eh.e_phoff + i * sizeof(Elf64_Phdr)));
    if (ph.p_type != PT_NOTE) continue;
    uint64_t entry = TRY(find_pvh_entry(file, ph.p_offset, ph.p_filesz, &out.is_linux));
    if (out.entry == 0) out.entry = entry;
  }
  if (out.entry == 0)
    return Unexpected(Error(EINVAL, "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)")
                          .with_hint("use a kernel built with CONFIG_PVH=y, or its bzImage"));
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    auto ph = TRY(read_at<Elf64_Phdr>(file, eh.e_phoff + i * sizeof(Elf64_Phdr)));
    if (ph.p_type == PT_LOAD) {
      if (ph.p_filesz > ph.p_memsz) return fail(EINVAL, "ELF segment {} has filesz > memsz", i);
      if (ph.p_paddr < kHighMemory)
        return fail(EINVAL, "ELF segment {} loads at {:#x}, below 1 MiB (reserved for boot data)", i, ph.p_paddr);
      if (!memory.contains(ph.p_paddr, ph.p_memsz))
        return Unexpected(Error(EINVAL, fmt::format("ELF segment {} [{:#x}, +{:#x}) does not fit in guest RAM",
                                                    i, ph.p_paddr, ph.p_memsz))
                              .with_hint("give the VM more memory (mem_size_mib)"));
      TRY(copy_to_guest(memory, file, ph.p_offset, ph.p_filesz, ph.p_paddr));
      auto tail = TRY(memory.slice(ph.p_paddr + ph.p_filesz, ph.p_memsz - ph.p_filesz));
      std::memset(tail.data(), 0, tail.size());
      out.kernel_end = std::max(out.kernel_end, ph.p_paddr + ph.p_memsz);
    }
  }
  if (!memory.contains(out.entry, 1)) return fail(EINVAL, "PVH entry {:#x} is outside guest RAM", out.entry);
  return out;
}

Result<LoadedKernel> load_bzimage(const GuestMemory& memory, std::span<const uint8_t> file) {
  // Linux Documentation/arch/x86/boot.rst: the setup header starts at 0x1f1.
  auto setup_sects = TRY(read_at<uint8_t>(file, 0x1f1));
  auto magic = TRY(read_at<uint32_t>(file, 0x202));
  auto version = TRY(read_at<uint16_t>(file, 0x206));
  auto loadflags = TRY(read_at<uint8_t>(file, 0x211));
  auto xloadflags = TRY(read_at<uint16_t>(file, 0x236));
  if (magic != 0x53726448) return fail(EINVAL, "not a bzImage (no HdrS magic)");
  if (version < 0x20c) return fail(EINVAL, "boot protocol {:#x} too old (need 2.12 for 64-bit entry)", version);
  if (!(loadflags & 0x1)) return fail(EINVAL, "zImage (not loaded high) is not supported");
  if (!(xloadflags & 0x1)) return fail(EINVAL, "kernel has no 64-bit entry point (XLF_KERNEL_64)");
  uint64_t setup_bytes = (setup_sects == 0 ? 4 : setup_sects) * 512ull + 512;
  if (setup_bytes >= file.size()) return fail(EINVAL, "bzImage is truncated");
  uint64_t kernel_size = file.size() - setup_bytes;
  LoadedKernel out{BootProtocol::LinuxBzImage};
  out.is_linux = true;
  TRY_CTX(copy_to_guest(memory, file, setup_bytes, kernel_size, kHighMemory), "load bzImage");
  out.entry = kHighMemory + 0x200;  // 64-bit entry: startup_64
  out.kernel_end = kHighMemory + kernel_size;
  // The header ends where its jump at 0x200 points (0x202 + byte at 0x201).
  auto jump = TRY(read_at<uint8_t>(file, 0x201));
  uint64_t header_end = std::min<uint64_t>(0x202 + jump, 0x290);
  out.setup_header.assign(file.begin() + 0x1f1, file.begin() + header_end);
  out.initrd_addr_max = TRY(read_at<uint32_t>(file, 0x22c));
  // The decompressor needs init_size bytes from the load address.
  auto init_size = TRY(read_at<uint32_t>(file, 0x260));
  out.kernel_end = std::max(out.kernel_end, kHighMemory + init_size);
  if (!memory.contains(kHighMemory, init_size))
    return Unexpected(Error(EINVAL, fmt::format("kernel needs {} MiB to decompress", init_size >> 20))
                          .with_hint("give the VM more memory (mem_size_mib)"));
  return out;
}

Result<LoadedKernel> load_flat(const GuestMemory& memory, std::span<const uint8_t> file) {
  if (file.empty()) return fail(EINVAL, "kernel file is empty");
  TRY_CTX(copy_to_guest(memory, file, 0, file.size(), kHighMemory), "load flat binary");
  return LoadedKernel{BootProtocol::Flat64, kHighMemory, kHighMemory + file.size(), {}, 0};
}

Result<LoadedKernel> load_kernel(const GuestMemory& memory, const std::string& path) {
  auto text = TRY_CTX(read_file(path), "read kernel {}", path);
  if (text.size() > kMaxKernelFile) return fail(EFBIG, "kernel {} is larger than 512 MiB", path);
  std::span<const uint8_t> file(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  if (file.size() >= 4 && std::memcmp(file.data(), ELFMAG, SELFMAG) == 0)
    return TRY_CTX(load_elf_pvh(memory, file), "load ELF kernel {}", path);
  if (file.size() >= 0x206 && std::memcmp(file.data() + 0x202, "HdrS", 4) == 0)
    return TRY_CTX(load_bzimage(memory, file), "load bzImage {}", path);
  return TRY_CTX(load_flat(memory, file), "load flat binary {}", path);
}

}  // namespace vessel::vmm::x86
