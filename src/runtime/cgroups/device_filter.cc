#include "runtime/cgroups/device_filter.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace vessel::runtime {

namespace {

// struct bpf_cgroup_dev_ctx: access_type (device type in the low 16 bits, access in the high),
// major, minor. Registers: r2 type, r3 access, r4 major, r5 minor; r1 scratch; r0 the verdict.
constexpr uint8_t kType = BPF_REG_2, kAccess = BPF_REG_3, kMajor = BPF_REG_4, kMinor = BPF_REG_5;

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn load_u32(uint8_t dst, int16_t off) { return insn(BPF_LDX | BPF_W | BPF_MEM, dst, BPF_REG_1, off, 0); }
bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) { return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
bpf_insn mov32_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov64_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn jump_imm(uint8_t op, uint8_t dst, int32_t imm) { return insn(BPF_JMP | op | BPF_K, dst, 0, 0, imm); }
bpf_insn jump_always() { return insn(BPF_JMP | BPF_JA, 0, 0, 0, 0); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// One rule in the form the program tests: -1 for "any".
struct Match {
  bool allow = false;
  int32_t type = -1;  // BPF_DEVCG_DEV_BLOCK or _CHAR
  int32_t major = -1, minor = -1;
  uint32_t access = 0;  // BPF_DEVCG_ACC_* bits
  bool unconditional() const { return type < 0 && major < 0 && minor < 0; }
};

Result<int32_t> device_number(const std::optional<int64_t>& v, const char* what, size_t index) {
  if (!v || *v < 0) return -1;
  if (*v > INT32_MAX) return fail(EINVAL, "linux.resources.devices[{}].{}: {} is out of range", index, what, *v);
  return static_cast<int32_t>(*v);
}

Result<Match> to_match(const DeviceRule& r, size_t index) {
  Match m;
  m.allow = r.allow;
  if (r.type == "b") m.type = BPF_DEVCG_DEV_BLOCK;
  else if (r.type == "c") m.type = BPF_DEVCG_DEV_CHAR;
  else if (r.type != "a") return fail(EINVAL, "linux.resources.devices[{}].type: \"{}\" is not one of a, b, c", index, r.type);
  m.major = TRY(device_number(r.major, "major", index));
  m.minor = TRY(device_number(r.minor, "minor", index));
  for (char c : r.access) {
    if (c == 'r') m.access |= BPF_DEVCG_ACC_READ;
    else if (c == 'w') m.access |= BPF_DEVCG_ACC_WRITE;
    else if (c == 'm') m.access |= BPF_DEVCG_ACC_MKNOD;
    else return fail(EINVAL, "linux.resources.devices[{}].access: \"{}\" is not made of r, w, m", index, r.access);
  }
  return m;
}

// Forward jumps to a label placed later: their offsets are patched when it is placed.
class Assembler {
 public:
  void emit(bpf_insn i) { code_.push_back(i); }
  void jump_to(int label, bpf_insn i) {
    fixups_.push_back({code_.size(), label});
    emit(i);
  }
  int new_label() { return next_label_++; }
  void place(int label) {
    for (const auto& f : fixups_)
      if (f.label == label) code_[f.at].off = static_cast<int16_t>(code_.size() - f.at - 1);
  }
  std::vector<bpf_insn> take() { return std::move(code_); }

 private:
  struct Fixup {
    size_t at;
    int label;
  };
  std::vector<bpf_insn> code_;
  std::vector<Fixup> fixups_;
  int next_label_ = 0;
};

// The block that decides one access bit: the rules that name it, last first; the first match
// decides. An allow goes on to the next bit (`allowed`), a deny returns 0.
void emit_access_block(Assembler& a, const std::vector<Match>& rules, uint32_t bit, int allowed) {
  a.emit(mov32_reg(BPF_REG_1, kAccess));
  a.emit(alu32_imm(BPF_AND, BPF_REG_1, static_cast<int32_t>(bit)));
  a.jump_to(allowed, jump_imm(BPF_JEQ, BPF_REG_1, 0));  // not asked for
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const Match& m = *it;
    if (!(m.access & bit)) continue;
    int next = a.new_label();
    if (m.type >= 0) a.jump_to(next, jump_imm(BPF_JNE, kType, m.type));
    if (m.major >= 0) a.jump_to(next, jump_imm(BPF_JNE, kMajor, m.major));
    if (m.minor >= 0) a.jump_to(next, jump_imm(BPF_JNE, kMinor, m.minor));
    if (m.allow) {
      a.jump_to(allowed, jump_always());
    } else {
      a.emit(mov64_imm(BPF_REG_0, 0));
      a.emit(exit_insn());
    }
    a.place(next);
    if (m.unconditional()) return;  // nothing before it can match
  }
  a.emit(mov64_imm(BPF_REG_0, 0));  // no rule names this access: the default, deny
  a.emit(exit_insn());
}

long bpf(int cmd, bpf_attr* attr) { return syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

uint64_t ptr(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

// The ids of the device programs attached to the group now.
Result<std::vector<uint32_t>> attached_programs(int dirfd) {
  std::vector<uint32_t> ids(64);
  for (;;) {
    bpf_attr attr{};
    attr.query.target_fd = static_cast<uint32_t>(dirfd);
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    attr.query.prog_ids = ptr(ids.data());
    if (bpf(BPF_PROG_QUERY, &attr) == 0) {
      ids.resize(attr.query.prog_cnt);
      return ids;
    }
    if (errno != ENOSPC || ids.size() >= 4096) return fail_errno("query the device programs of the cgroup");
    ids.resize(ids.size() * 2);
  }
}

}  // namespace

Result<std::vector<bpf_insn>> device_filter_program(const std::vector<DeviceRule>& rules) {
  if (rules.size() > kMaxDeviceRules)
    return fail(EINVAL, "linux.resources.devices: {} rules; at most {} are supported", rules.size(), kMaxDeviceRules);
  std::vector<Match> matches;
  for (size_t i = 0; i < rules.size(); ++i) matches.push_back(TRY(to_match(rules[i], i)));
  Assembler a;
  a.emit(load_u32(kType, 0));
  a.emit(alu32_imm(BPF_AND, kType, 0xffff));
  a.emit(load_u32(kAccess, 0));
  a.emit(alu32_imm(BPF_RSH, kAccess, 16));
  a.emit(load_u32(kMajor, 4));
  a.emit(load_u32(kMinor, 8));
  for (uint32_t bit : {BPF_DEVCG_ACC_MKNOD, BPF_DEVCG_ACC_READ, BPF_DEVCG_ACC_WRITE}) {
    int allowed = a.new_label();
    emit_access_block(a, matches, bit, allowed);
    a.place(allowed);
  }
  a.emit(mov64_imm(BPF_REG_0, 1));
  a.emit(exit_insn());
  return a.take();
}

Result<Fd> load_device_filter(const std::vector<bpf_insn>& program) {
  static const char kLicense[] = "GPL";  // no helper is called; the kernel only records it
  std::string log(64 * 1024, '\0');
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = ptr(program.data());
  attr.insn_cnt = static_cast<uint32_t>(program.size());
  attr.license = ptr(kLicense);
  std::strncpy(attr.prog_name, "vessel_devices", sizeof attr.prog_name - 1);
  long fd = bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0) return Fd(static_cast<int>(fd));
  int first = errno;
  attr.log_level = 1;
  attr.log_buf = ptr(log.data());
  attr.log_size = static_cast<uint32_t>(log.size());
  fd = bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0) return Fd(static_cast<int>(fd));
  log.resize(std::strlen(log.c_str()));
  Error e = Error::system(first, fmt::format("load the cgroup device program ({} instructions){}", program.size(),
                             log.empty() ? "" : ": verifier: " + log.substr(log.size() > 2000 ? log.size() - 2000 : 0)));
  if (first == EPERM) return Unexpected(std::move(e).with_hint("loading a BPF program needs CAP_BPF or CAP_SYS_ADMIN"));
  return Unexpected(std::move(e));
}

Result<void> attach_device_filter(const std::string& dir, const Fd& program) {
  Fd dirfd = TRY_CTX(Fd::open(dir, O_RDONLY | O_DIRECTORY), "open cgroup {}", dir);
  auto before = TRY(attached_programs(dirfd.get()));
  bpf_attr attr{};
  attr.target_fd = static_cast<uint32_t>(dirfd.get());
  attr.attach_bpf_fd = static_cast<uint32_t>(program.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &attr) != 0) return fail_errno("attach the device program to cgroup {}", dir);
  for (uint32_t id : before) {
    bpf_attr get{};
    get.prog_id = id;
    long old = bpf(BPF_PROG_GET_FD_BY_ID, &get);
    if (old < 0) {
      if (errno == ENOENT) continue;  // gone meanwhile
      return fail_errno("open the earlier device program {} of cgroup {}", id, dir);
    }
    Fd old_fd(static_cast<int>(old));
    bpf_attr detach{};
    detach.target_fd = static_cast<uint32_t>(dirfd.get());
    detach.attach_bpf_fd = static_cast<uint32_t>(old_fd.get());
    detach.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, &detach) != 0 && errno != ENOENT)
      return fail_errno("detach the earlier device program {} of cgroup {}", id, dir);
  }
  return {};
}

}  // namespace vessel::runtime
