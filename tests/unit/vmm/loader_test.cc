#include "vmm/arch/x86_64/loader.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>

namespace vessel::vmm::x86 {
namespace {

// A minimal ELF64 with one PT_LOAD at `paddr` and an optional PVH note.
std::vector<uint8_t> make_elf(uint64_t paddr, const std::string& payload, std::optional<uint32_t> pvh_entry,
                              bool linux_note = false) {
  std::vector<uint8_t> f(0x1000 + payload.size(), 0);
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_phoff = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 2;
  std::memcpy(f.data(), &eh, sizeof eh);
  Elf64_Phdr load{};
  load.p_type = PT_LOAD;
  load.p_offset = 0x1000;
  load.p_paddr = paddr;
  load.p_filesz = payload.size();
  load.p_memsz = payload.size() + 0x100;  // some bss
  std::memcpy(f.data() + sizeof eh, &load, sizeof load);
  std::vector<uint8_t> notes;
  auto add_note = [&](const char* name, uint32_t namesz, uint32_t type, const void* desc, uint32_t descsz) {
    Elf64_Nhdr n{namesz, descsz, type};
    const uint8_t* p = reinterpret_cast<const uint8_t*>(&n);
    notes.insert(notes.end(), p, p + sizeof n);
    notes.insert(notes.end(), name, name + namesz);
    while (notes.size() % 4) notes.push_back(0);
    const uint8_t* d = static_cast<const uint8_t*>(desc);
    notes.insert(notes.end(), d, d + descsz);
    while (notes.size() % 4) notes.push_back(0);
  };
  uint32_t zero = 0;
  if (linux_note) add_note("Linux", 6, 0x100, &zero, 4);
  if (pvh_entry) add_note("Xen", 4, 18, &*pvh_entry, 4);
  Elf64_Phdr note{};
  note.p_type = PT_NOTE;
  note.p_offset = 0x200;
  note.p_filesz = notes.size();
  std::memcpy(f.data() + sizeof eh + sizeof load, &note, sizeof note);
  if (!notes.empty()) std::memcpy(f.data() + 0x200, notes.data(), notes.size());  // no notes: data() may be null
  std::memcpy(f.data() + 0x1000, payload.data(), payload.size());
  return f;
}

TEST(Loader, PvhElfIsLoadedAtItsPhysicalAddressWithBssZeroed) {
  auto mem = GuestMemory::create(8 << 20).value();
  std::vector<uint8_t> junk(0x200, 0xaa);
  ASSERT_TRUE(mem.write(0x200000 + 4, junk.data(), junk.size()));  // bss must be cleared
  auto elf = make_elf(0x200000, "KERN", 0x200000, true);
  auto k = load_elf_pvh(mem, elf);
  ASSERT_TRUE(k) << k.error().to_string();
  EXPECT_EQ(k->protocol, BootProtocol::Pvh);
  EXPECT_EQ(k->entry, 0x200000u);
  EXPECT_EQ(k->kernel_end, 0x200000u + 4 + 0x100);
  EXPECT_TRUE(k->is_linux);
  char buf[4];
  ASSERT_TRUE(mem.read(0x200000, buf, 4));
  EXPECT_EQ(std::string(buf, 4), "KERN");
  EXPECT_EQ(mem.read_obj<uint8_t>(0x200000 + 4 + 0x80).value(), 0);
}

TEST(Loader, ElfWithoutPvhNoteIsRefused) {
  auto mem = GuestMemory::create(8 << 20).value();
  auto k = load_elf_pvh(mem, make_elf(0x200000, "KERN", std::nullopt));
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().to_string().find("no PVH entry note"), std::string::npos);
}

TEST(Loader, SegmentOutsideRamOrBelowOneMebibyteIsRefused) {
  auto mem = GuestMemory::create(8 << 20).value();
  EXPECT_FALSE(load_elf_pvh(mem, make_elf(0x7ff000, std::string(0x2000, 'x'), 0x7ff000)));
  EXPECT_FALSE(load_elf_pvh(mem, make_elf(0x1000, "x", 0x1000)));
  EXPECT_FALSE(load_elf_pvh(mem, make_elf(~0ull - 10, "x", 0x100000)));
}

TEST(Loader, TruncatedOrLyingHeadersAreErrorsNotCrashes) {
  auto mem = GuestMemory::create(8 << 20).value();
  auto elf = make_elf(0x200000, "KERN", 0x200000);
  for (size_t cut : {0ul, 10ul, 63ul, 100ul, 0x210ul, 0x1002ul}) {
    std::vector<uint8_t> part(elf.begin(), elf.begin() + std::min(cut, elf.size()));
    EXPECT_FALSE(load_elf_pvh(mem, part)) << cut;
  }
  auto bad = elf;
  Elf64_Phdr* ph = reinterpret_cast<Elf64_Phdr*>(bad.data() + sizeof(Elf64_Ehdr));
  ph->p_offset = ~0ull - 2;  // offset + size overflows
  EXPECT_FALSE(load_elf_pvh(mem, bad));
}

std::vector<uint8_t> make_bzimage(uint16_t version, uint16_t xloadflags, size_t kernel_bytes) {
  std::vector<uint8_t> f(512 * 5 + kernel_bytes, 0);
  f[0x1f1] = 4;  // setup_sects
  std::memcpy(f.data() + 0x202, "HdrS", 4);
  std::memcpy(f.data() + 0x206, &version, 2);
  f[0x201] = 0x6a;  // jump to 0x26c: header length
  f[0x211] = 0x01;  // LOADED_HIGH
  std::memcpy(f.data() + 0x236, &xloadflags, 2);
  uint32_t initrd_max = 0x37ffffff, init_size = 0x100000;
  std::memcpy(f.data() + 0x22c, &initrd_max, 4);
  std::memcpy(f.data() + 0x260, &init_size, 4);
  std::memset(f.data() + 512 * 5, 0x90, kernel_bytes);
  return f;
}

TEST(Loader, BzImageGoesToOneMebibyteWithSixtyFourBitEntry) {
  auto mem = GuestMemory::create(16 << 20).value();
  auto k = load_bzimage(mem, make_bzimage(0x20f, 0x1, 4096));
  ASSERT_TRUE(k) << k.error().to_string();
  EXPECT_EQ(k->protocol, BootProtocol::LinuxBzImage);
  EXPECT_EQ(k->entry, 0x100200u);
  EXPECT_EQ(k->initrd_addr_max, 0x37ffffffu);
  EXPECT_EQ(k->setup_header.size(), 0x26cu - 0x1f1u);
  EXPECT_EQ(mem.read_obj<uint8_t>(0x100000).value(), 0x90);
}

TEST(Loader, OldOrThirtyTwoBitOnlyBzImagesAreRefused) {
  auto mem = GuestMemory::create(16 << 20).value();
  EXPECT_FALSE(load_bzimage(mem, make_bzimage(0x20a, 0x1, 4096)));
  auto k = load_bzimage(mem, make_bzimage(0x20f, 0x0, 4096));
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().to_string().find("64-bit"), std::string::npos);
}

TEST(Loader, FlatBinaryLandsAtOneMebibyte) {
  auto mem = GuestMemory::create(4 << 20).value();
  std::vector<uint8_t> code = {0xe9, 1, 2, 3};
  auto k = load_flat(mem, code);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->entry, 0x100000u);
  EXPECT_EQ(mem.read_obj<uint8_t>(0x100000).value(), 0xe9);
  EXPECT_FALSE(load_flat(mem, {}));
}

}  // namespace
}  // namespace vessel::vmm::x86
