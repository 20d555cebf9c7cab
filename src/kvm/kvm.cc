#include "kvm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace vessel::kvm {
namespace {

// ioctl retried on EINTR (except KVM_RUN, whose EINTR is meaningful).
template <typename Arg>
int xioctl(int fd, unsigned long request, Arg arg) {
  int r;
  do {
    r = ::ioctl(fd, request, arg);
  } while (r < 0 && errno == EINTR && request != KVM_RUN);
  return r;
}

// In C++ the uapi's __DECLARE_FLEX_ARRAY makes kvm_cpuid2, kvm_msrs and kvm_msr_list bigger
// than in C, which changes the ioctl numbers: use the C layouts (a u32 count, padding to the
// entries' alignment, then the entries) and numbers computed from their C sizes.
constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, uint64_t);
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, uint64_t);
constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, uint64_t);
constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, uint64_t);
constexpr unsigned long kGetMsrIndexList = _IOWR(KVMIO, 0x02, uint32_t);
constexpr unsigned long kGetXsave = _IOR(KVMIO, 0xa4, XsaveArea);
constexpr unsigned long kSetXsave = _IOW(KVMIO, 0xa5, XsaveArea);

// Heap buffer: a u32 count at offset 0, entries at `header` bytes.
template <typename Entry>
struct Flex {
  Flex(size_t n, size_t header) : header_size(header), bytes(header + n * sizeof(Entry), 0) {}
  uint32_t& count() { return *reinterpret_cast<uint32_t*>(bytes.data()); }
  Entry* entries() { return reinterpret_cast<Entry*>(bytes.data() + header_size); }
  void* get() { return bytes.data(); }
  size_t header_size;
  std::vector<uint8_t> bytes;
};

}  // namespace

kvm_cpuid_entry2* CpuidEntries::find(uint32_t function, uint32_t index) {
  for (auto& e : entries) {
    if (e.function != function) continue;
    if ((e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e.index != index) continue;
    return &e;
  }
  return nullptr;
}

Result<System> System::open(const char* path) {
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return Unexpected(Error::from_errno(fmt::format("open {}", path))
                          .with_hint("is the kvm module loaded and are you allowed to use it?"));
  System sys{Fd(fd)};
  int version = xioctl(fd, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) return fail(ENOTSUP, "KVM API version {} (need {})", version, KVM_API_VERSION);
  return sys;
}

int System::check_extension(long cap) const {
  int r = xioctl(fd_.get(), KVM_CHECK_EXTENSION, cap);
  return r < 0 ? 0 : r;
}

Result<CpuidEntries> System::supported_cpuid() const {
  for (size_t n = 64; n <= 4096; n *= 2) {
    Flex<kvm_cpuid_entry2> buf(n, 8);
    buf.count() = n;
    if (xioctl(fd_.get(), kGetSupportedCpuid, buf.get()) == 0) {
      CpuidEntries out;
      auto* first = buf.entries();
      out.entries.assign(first, first + buf.count());
      return out;
    }
    if (errno != E2BIG) return fail_errno("KVM_GET_SUPPORTED_CPUID");
  }
  return fail(E2BIG, "KVM_GET_SUPPORTED_CPUID: too many entries");
}

Result<std::vector<uint32_t>> System::msr_index_list() const {
  uint32_t probe = 0;
  if (xioctl(fd_.get(), kGetMsrIndexList, &probe) < 0 && errno != E2BIG)
    return fail_errno("KVM_GET_MSR_INDEX_LIST");
  Flex<uint32_t> buf(probe, 4);
  buf.count() = probe;
  if (xioctl(fd_.get(), kGetMsrIndexList, buf.get()) < 0) return fail_errno("KVM_GET_MSR_INDEX_LIST");
  return std::vector<uint32_t>(buf.entries(), buf.entries() + buf.count());
}

Result<size_t> System::vcpu_mmap_size() const {
  int r = xioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (r < 0) return fail_errno("KVM_GET_VCPU_MMAP_SIZE");
  return static_cast<size_t>(r);
}

bool System::is_pvm() { return ::access("/sys/module/kvm_pvm", F_OK) == 0; }

Result<Vm> System::create_vm() const {
  size_t run_size = TRY(vcpu_mmap_size());
  int fd;
  do {
    fd = ::ioctl(fd_.get(), KVM_CREATE_VM, 0);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return fail_errno("KVM_CREATE_VM");
  return Vm(Fd(fd), run_size);
}

// ---------------------------------------------------------------- Vm

int Vm::check_extension(long cap) const {
  int r = xioctl(fd_.get(), KVM_CHECK_EXTENSION, cap);
  return r < 0 ? 0 : r;
}

Result<void> Vm::set_user_memory_region(uint32_t slot, uint64_t guest_addr, uint64_t size,
                                        void* host, uint32_t flags) {
  kvm_userspace_memory_region region{slot, flags, guest_addr, size,
                                     reinterpret_cast<uint64_t>(host)};
  if (xioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0)
    return fail_errno("KVM_SET_USER_MEMORY_REGION slot {} at {:#x} size {:#x}", slot, guest_addr, size);
  return {};
}

Result<void> Vm::set_tss_addr(uint64_t addr) {
  if (xioctl(fd_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(addr)) < 0)
    return fail_errno("KVM_SET_TSS_ADDR");
  return {};
}

Result<void> Vm::set_identity_map_addr(uint64_t addr) {
  if (xioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0) return fail_errno("KVM_SET_IDENTITY_MAP_ADDR");
  return {};
}

Result<void> Vm::create_irqchip() {
  if (xioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) < 0) return fail_errno("KVM_CREATE_IRQCHIP");
  return {};
}

Result<void> Vm::create_pit2() {
  kvm_pit_config config{};
  config.flags = KVM_PIT_SPEAKER_DUMMY;
  if (xioctl(fd_.get(), KVM_CREATE_PIT2, &config) < 0) return fail_errno("KVM_CREATE_PIT2");
  return {};
}

Result<void> Vm::irqfd(int eventfd, uint32_t gsi) {
  kvm_irqfd req{};
  req.fd = static_cast<uint32_t>(eventfd);
  req.gsi = gsi;
  if (xioctl(fd_.get(), KVM_IRQFD, &req) < 0) return fail_errno("KVM_IRQFD gsi {}", gsi);
  return {};
}

Result<void> Vm::irqfd_remove(int eventfd, uint32_t gsi) {
  kvm_irqfd req{};
  req.fd = static_cast<uint32_t>(eventfd);
  req.gsi = gsi;
  req.flags = KVM_IRQFD_FLAG_DEASSIGN;
  if (xioctl(fd_.get(), KVM_IRQFD, &req) < 0) return fail_errno("KVM_IRQFD deassign gsi {}", gsi);
  return {};
}

namespace {
kvm_ioeventfd make_ioeventfd(uint64_t addr, uint32_t len, std::optional<uint64_t> datamatch,
                             int eventfd, bool pio) {
  kvm_ioeventfd req{};
  req.addr = addr;
  req.len = len;
  req.fd = eventfd;
  if (datamatch) {
    req.datamatch = *datamatch;
    req.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
  }
  if (pio) req.flags |= KVM_IOEVENTFD_FLAG_PIO;
  return req;
}
}  // namespace

Result<void> Vm::ioeventfd(uint64_t addr, uint32_t len, std::optional<uint64_t> datamatch,
                           int eventfd, bool pio) {
  kvm_ioeventfd req = make_ioeventfd(addr, len, datamatch, eventfd, pio);
  if (xioctl(fd_.get(), KVM_IOEVENTFD, &req) < 0) return fail_errno("KVM_IOEVENTFD at {:#x}", addr);
  return {};
}

Result<void> Vm::ioeventfd_remove(uint64_t addr, uint32_t len, std::optional<uint64_t> datamatch,
                                  int eventfd, bool pio) {
  kvm_ioeventfd req = make_ioeventfd(addr, len, datamatch, eventfd, pio);
  req.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
  if (xioctl(fd_.get(), KVM_IOEVENTFD, &req) < 0) return fail_errno("KVM_IOEVENTFD deassign at {:#x}", addr);
  return {};
}

Result<void> Vm::irq_line(uint32_t irq, bool level) {
  kvm_irq_level req{};
  req.irq = irq;
  req.level = level ? 1 : 0;
  if (xioctl(fd_.get(), KVM_IRQ_LINE, &req) < 0) return fail_errno("KVM_IRQ_LINE {}", irq);
  return {};
}

Result<kvm_irqchip> Vm::get_irqchip(uint32_t chip_id) const {
  kvm_irqchip chip{};
  chip.chip_id = chip_id;
  if (xioctl(fd_.get(), KVM_GET_IRQCHIP, &chip) < 0) return fail_errno("KVM_GET_IRQCHIP {}", chip_id);
  return chip;
}

Result<void> Vm::set_irqchip(const kvm_irqchip& chip) {
  kvm_irqchip copy = chip;
  if (xioctl(fd_.get(), KVM_SET_IRQCHIP, &copy) < 0) return fail_errno("KVM_SET_IRQCHIP {}", chip.chip_id);
  return {};
}

Result<std::vector<uint64_t>> Vm::get_dirty_log(uint32_t slot, uint64_t pages) const {
  std::vector<uint64_t> bits((pages + 63) / 64, 0);
  kvm_dirty_log log{};
  log.slot = slot;
  log.dirty_bitmap = bits.data();
  if (xioctl(fd_.get(), KVM_GET_DIRTY_LOG, &log) < 0) return fail_errno("KVM_GET_DIRTY_LOG slot {}", slot);
  return bits;
}

Result<kvm_pit_state2> Vm::get_pit2() const {
  kvm_pit_state2 pit{};
  if (xioctl(fd_.get(), KVM_GET_PIT2, &pit) < 0) return fail_errno("KVM_GET_PIT2");
  return pit;
}

Result<void> Vm::set_pit2(const kvm_pit_state2& pit) {
  kvm_pit_state2 copy = pit;
  if (xioctl(fd_.get(), KVM_SET_PIT2, &copy) < 0) return fail_errno("KVM_SET_PIT2");
  return {};
}

Result<kvm_clock_data> Vm::get_clock() const {
  kvm_clock_data data{};
  if (xioctl(fd_.get(), KVM_GET_CLOCK, &data) < 0) return fail_errno("KVM_GET_CLOCK");
  return data;
}

Result<void> Vm::set_clock(const kvm_clock_data& clock) {
  kvm_clock_data data = clock;
  data.flags = 0;
  if (xioctl(fd_.get(), KVM_SET_CLOCK, &data) < 0) return fail_errno("KVM_SET_CLOCK");
  return {};
}

Result<Vcpu> Vm::create_vcpu(uint32_t id) {
  int fd = xioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(id));
  if (fd < 0) return fail_errno("KVM_CREATE_VCPU {}", id);
  Fd owned(fd);
  void* run = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (run == MAP_FAILED) return fail_errno("mmap kvm_run of vCPU {}", id);
  return Vcpu(id, std::move(owned), static_cast<kvm_run*>(run), run_size_);
}

// ---------------------------------------------------------------- Vcpu

Vcpu::Vcpu(Vcpu&& other) noexcept
    : id_(other.id_), fd_(std::move(other.fd_)), run_(std::exchange(other.run_, nullptr)),
      run_size_(std::exchange(other.run_size_, 0)) {}

Vcpu& Vcpu::operator=(Vcpu&& other) noexcept {
  if (this != &other) {
    if (run_) ::munmap(run_, run_size_);
    id_ = other.id_;
    fd_ = std::move(other.fd_);
    run_ = std::exchange(other.run_, nullptr);
    run_size_ = std::exchange(other.run_size_, 0);
  }
  return *this;
}

Vcpu::~Vcpu() {
  if (run_) ::munmap(run_, run_size_);
}

Result<void> Vcpu::run() {
  if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) return fail_errno("KVM_RUN vCPU {}", id_);
  return {};
}

#define VESSEL_GET(type, name, req)                                      \
  Result<type> Vcpu::name() const {                                      \
    type value{};                                                        \
    if (xioctl(fd_.get(), req, &value) < 0) return fail_errno(#req " vCPU {}", id_); \
    return value;                                                        \
  }
#define VESSEL_SET(type, name, req)                                      \
  Result<void> Vcpu::name(const type& value) {                           \
    if (xioctl(fd_.get(), req, &value) < 0) return fail_errno(#req " vCPU {}", id_); \
    return {};                                                           \
  }

VESSEL_GET(kvm_regs, get_regs, KVM_GET_REGS)
VESSEL_SET(kvm_regs, set_regs, KVM_SET_REGS)
VESSEL_GET(kvm_sregs, get_sregs, KVM_GET_SREGS)
VESSEL_SET(kvm_sregs, set_sregs, KVM_SET_SREGS)
VESSEL_GET(kvm_fpu, get_fpu, KVM_GET_FPU)
VESSEL_SET(kvm_fpu, set_fpu, KVM_SET_FPU)
VESSEL_GET(XsaveArea, get_xsave, kGetXsave)
VESSEL_SET(XsaveArea, set_xsave, kSetXsave)
VESSEL_GET(kvm_lapic_state, get_lapic, KVM_GET_LAPIC)
VESSEL_SET(kvm_lapic_state, set_lapic, KVM_SET_LAPIC)
VESSEL_GET(kvm_vcpu_events, get_events, KVM_GET_VCPU_EVENTS)
VESSEL_SET(kvm_vcpu_events, set_events, KVM_SET_VCPU_EVENTS)
VESSEL_GET(kvm_mp_state, get_mp_state, KVM_GET_MP_STATE)
VESSEL_SET(kvm_mp_state, set_mp_state, KVM_SET_MP_STATE)
VESSEL_GET(kvm_xcrs, get_xcrs, KVM_GET_XCRS)
VESSEL_SET(kvm_xcrs, set_xcrs, KVM_SET_XCRS)
VESSEL_GET(kvm_debugregs, get_debugregs, KVM_GET_DEBUGREGS)
VESSEL_SET(kvm_debugregs, set_debugregs, KVM_SET_DEBUGREGS)
#undef VESSEL_GET
#undef VESSEL_SET

Result<void> Vcpu::set_cpuid(const CpuidEntries& cpuid) {
  Flex<kvm_cpuid_entry2> buf(cpuid.entries.size(), 8);
  buf.count() = cpuid.entries.size();
  std::memcpy(buf.entries(), cpuid.entries.data(), cpuid.entries.size() * sizeof(kvm_cpuid_entry2));
  if (xioctl(fd_.get(), kSetCpuid2, buf.get()) < 0) return fail_errno("KVM_SET_CPUID2 vCPU {}", id_);
  return {};
}

Result<void> Vcpu::set_msrs(const std::vector<kvm_msr_entry>& msrs) {
  Flex<kvm_msr_entry> buf(msrs.size(), 8);
  buf.count() = msrs.size();
  std::memcpy(buf.entries(), msrs.data(), msrs.size() * sizeof(kvm_msr_entry));
  int r = xioctl(fd_.get(), kSetMsrs, buf.get());
  if (r < 0) return fail_errno("KVM_SET_MSRS vCPU {}", id_);
  if (static_cast<size_t>(r) != msrs.size())
    return fail(EINVAL, "KVM_SET_MSRS vCPU {}: MSR {:#x} refused", id_, msrs[r].index);
  return {};
}

Result<std::vector<kvm_msr_entry>> Vcpu::get_msrs(const std::vector<uint32_t>& indices) const {
  Flex<kvm_msr_entry> buf(indices.size(), 8);
  buf.count() = indices.size();
  for (size_t i = 0; i < indices.size(); ++i) buf.entries()[i].index = indices[i];
  int r = xioctl(fd_.get(), kGetMsrs, buf.get());
  if (r < 0) return fail_errno("KVM_GET_MSRS vCPU {}", id_);
  return std::vector<kvm_msr_entry>(buf.entries(), buf.entries() + r);
}

Result<void> Vcpu::set_guest_debug(const kvm_guest_debug& debug) {
  if (xioctl(fd_.get(), KVM_SET_GUEST_DEBUG, &debug) < 0) return fail_errno("KVM_SET_GUEST_DEBUG vCPU {}", id_);
  return {};
}

Result<kvm_translation> Vcpu::translate(uint64_t gva) const {
  kvm_translation t{};
  t.linear_address = gva;
  if (xioctl(fd_.get(), KVM_TRANSLATE, &t) < 0) return fail_errno("KVM_TRANSLATE {:#x}", gva);
  return t;
}

std::vector<unsigned long> running_vcpu_ioctls() {
  return {KVM_RUN,         KVM_GET_REGS,        KVM_SET_REGS,        KVM_GET_SREGS, KVM_SET_SREGS,
          KVM_GET_FPU,     KVM_SET_FPU,         kGetXsave,           kSetXsave,     KVM_GET_LAPIC,
          KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_MP_STATE, KVM_SET_MP_STATE, kGetMsrs,
          kSetMsrs,        KVM_SET_GUEST_DEBUG, KVM_TRANSLATE,
          // A VM ioctl: the guest's write that makes a virtio queue ready (or resets the device)
          // binds (or unbinds) the queue's ioeventfd on the vCPU thread that made it.
          KVM_IOEVENTFD};
}

std::vector<unsigned long> build_ioctls() {
  return {KVM_GET_API_VERSION, KVM_CHECK_EXTENSION, kGetSupportedCpuid, kGetMsrIndexList, KVM_GET_VCPU_MMAP_SIZE,
          KVM_CREATE_VM, KVM_SET_USER_MEMORY_REGION, KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR,
          KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2, KVM_IRQFD, KVM_IOEVENTFD, KVM_IRQ_LINE, KVM_GET_CLOCK,
          KVM_SET_CLOCK, KVM_CREATE_VCPU, kSetCpuid2, KVM_SET_LAPIC};
}

std::vector<unsigned long> snapshot_ioctls() {
  return {KVM_GET_REGS,  KVM_GET_SREGS,     kGetXsave,       KVM_GET_XCRS, KVM_GET_DEBUGREGS, kGetMsrs,
          KVM_GET_LAPIC, KVM_GET_VCPU_EVENTS, KVM_GET_MP_STATE, KVM_GET_CLOCK, KVM_GET_IRQCHIP, KVM_GET_PIT2,
          KVM_GET_DIRTY_LOG};
}

std::vector<unsigned long> migration_ioctls() { return {KVM_SET_USER_MEMORY_REGION}; }

}  // namespace vessel::kvm
