#include "runtime/linux/seccomp.h"

#include <linux/seccomp.h>
#include <seccomp.h>

#include <fcntl.h>
#include <linux/filter.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "base/fd.h"

namespace vessel::runtime {

namespace {

Result<uint32_t> action(const std::string& name, std::optional<unsigned> errno_ret, bool* notify) {
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") {
    if (notify) *notify = true;
    return SCMP_ACT_NOTIFY;
  }
  return fail(EINVAL, "unknown seccomp action \"{}\"", name);
}

Result<uint32_t> arch(const std::string& name) {
  static const std::pair<const char*, uint32_t> table[] = {
      {"SCMP_ARCH_X86", SCMP_ARCH_X86},         {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
      {"SCMP_ARCH_X32", SCMP_ARCH_X32},         {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
      {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64}, {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
      {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},   {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
      {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},   {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
      {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32}, {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
      {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},     {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
      {"SCMP_ARCH_S390", SCMP_ARCH_S390},       {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
      {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
  };
  for (const auto& [n, v] : table)
    if (name == n) return v;
  return fail(EINVAL, "unknown seccomp architecture \"{}\"", name);
}

Result<scmp_compare> op(const std::string& name) {
  if (name == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (name == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (name == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (name == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (name == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (name == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (name == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  return fail(EINVAL, "unknown seccomp operator \"{}\"", name);
}

Result<unsigned> flag(const std::string& name) {
  if (name == "SECCOMP_FILTER_FLAG_TSYNC") return SECCOMP_FILTER_FLAG_TSYNC;
  if (name == "SECCOMP_FILTER_FLAG_LOG") return SECCOMP_FILTER_FLAG_LOG;
  if (name == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") return SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  return fail(EINVAL, "unknown seccomp flag \"{}\"", name);
}

}  // namespace

Result<void> check_seccomp(const Seccomp& p) {
  TRY(action(p.default_action, p.default_errno_ret, nullptr));
  for (const auto& a : p.architectures) TRY(arch(a));
  for (const auto& f : p.flags) TRY(flag(f));
  for (const auto& r : p.syscalls) {
    TRY(action(r.action, r.errno_ret, nullptr));
    for (const auto& a : r.args) TRY(op(a.op));
  }
  return {};
}

SeccompFilter::~SeccompFilter() {
  if (ctx_) seccomp_release(ctx_);
}

Result<SeccompFilter> SeccompFilter::compile(const Seccomp& p) {
  SeccompFilter f;
  uint32_t def = TRY(action(p.default_action, p.default_errno_ret, &f.notify_));
  f.ctx_ = seccomp_init(def);
  if (!f.ctx_) return fail(ENOMEM, "seccomp_init failed (out of memory)");
  // no_new_privs is process.noNewPrivileges' business, not the filter's.
  seccomp_attr_set(f.ctx_, SCMP_FLTATR_CTL_NNP, 0);
  for (const auto& a : p.architectures) {
    uint32_t value = TRY(arch(a));
    int rc = seccomp_arch_add(f.ctx_, value);
    if (rc != 0 && rc != -EEXIST) return fail_system(-rc, "seccomp: add architecture {}", a);
  }
  for (const auto& fl : p.flags) {
    unsigned v = TRY(flag(fl));
    f.flags_ |= v;
    if (v == SECCOMP_FILTER_FLAG_LOG) seccomp_attr_set(f.ctx_, SCMP_FLTATR_CTL_LOG, 1);
    if (v == SECCOMP_FILTER_FLAG_SPEC_ALLOW) seccomp_attr_set(f.ctx_, SCMP_FLTATR_CTL_SSB, 1);
    if (v == SECCOMP_FILTER_FLAG_TSYNC) seccomp_attr_set(f.ctx_, SCMP_FLTATR_CTL_TSYNC, 1);
  }
  // A rule equal to the default action is rejected by libseccomp; skip it like runc does.
  for (size_t i = 0; i < p.syscalls.size(); ++i) {
    const auto& r = p.syscalls[i];
    uint32_t act = TRY(action(r.action, r.errno_ret, &f.notify_));
    if (act == def) continue;
    std::vector<scmp_arg_cmp> cmps;
    for (const auto& a : r.args) {
      scmp_compare c = TRY(op(a.op));
      cmps.push_back(scmp_arg_cmp{a.index, c, a.value, a.value_two});
    }
    for (const auto& name : r.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // unknown on this kernel/arch: ignored, like runc
      int rc = seccomp_rule_add_array(f.ctx_, act, nr, static_cast<unsigned>(cmps.size()),
                                      cmps.empty() ? nullptr : cmps.data());
      if (rc == -EINVAL && cmps.size() > 1) {
        // Several conditions on one argument: libseccomp wants one rule per condition.
        for (const auto& c : cmps) {
          rc = seccomp_rule_add_array(f.ctx_, act, nr, 1, &c);
          if (rc != 0) break;
        }
      }
      if (rc != 0) return fail_system(-rc, "seccomp: add rule for {} (linux.seccomp.syscalls[{}])", name, i);
    }
  }
  return f;
}

Result<void> SeccompFilter::export_bpf(const std::string& path) const {
  Fd fd = TRY(Fd::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
  int rc = seccomp_export_bpf(ctx_, fd.get());
  if (rc != 0) return fail_system(-rc, "export seccomp filter to {}", path);
  return {};
}

Result<std::string> SeccompFilter::bpf() const {
  int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0) return fail_errno("memfd_create");
  Fd mem(fd);
  int rc = seccomp_export_bpf(ctx_, fd);
  if (rc != 0) return fail_system(-rc, "export seccomp filter");
  off_t size = lseek(fd, 0, SEEK_END);
  std::string out(static_cast<size_t>(size), '\0');
  TRY(pread_exact(fd, out.data(), out.size(), 0));
  return out;
}

namespace {
std::string canonical(const Seccomp& p) {
  std::string s = fmt::format("v1|{}|{}|", p.default_action, p.default_errno_ret ? static_cast<int>(*p.default_errno_ret) : -1);
  for (const auto& a : p.architectures) s += a + ",";
  s += "|";
  for (const auto& f : p.flags) s += f + ",";
  for (const auto& r : p.syscalls) {
    s += fmt::format("|{}:{}:", r.action, r.errno_ret ? static_cast<int>(*r.errno_ret) : -1);
    for (const auto& n : r.names) s += n + ",";
    for (const auto& a : r.args) s += fmt::format("[{} {} {} {}]", a.index, a.value, a.value_two, a.op);
  }
  return s;
}
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}
}  // namespace

Result<std::string> compiled_bpf(const Seccomp& profile, const std::string& cache_dir) {
  std::string key = canonical(profile);
  std::string path = fmt::format("{}/{:016x}.bpf", cache_dir, fnv1a(key));
  if (auto cached = read_file(path)) {
    if (cached->size() > key.size() && cached->compare(0, key.size(), key) == 0 && (*cached)[key.size()] == '\0')
      return cached->substr(key.size() + 1);
  }
  auto filter = TRY(SeccompFilter::compile(profile));
  std::string program = TRY(filter.bpf());
  mkdir(cache_dir.c_str(), 0700);
  std::string tmp = fmt::format("{}.{}", path, getpid());
  if (write_file(tmp, key + std::string(1, '\0') + program)) rename(tmp.c_str(), path.c_str());
  return program;
}

Result<unsigned> seccomp_flags(const Seccomp& p) {
  unsigned flags = 0;
  for (const auto& f : p.flags) flags |= TRY(flag(f));
  return flags;
}

Result<void> load_bpf(const std::string& program, unsigned flags) {
  if (program.empty() || program.size() % sizeof(sock_filter) != 0 || program.size() / sizeof(sock_filter) > 65535)
    return fail(EINVAL, "saved seccomp program has an invalid size {}", program.size());
  sock_fprog prog{static_cast<unsigned short>(program.size() / sizeof(sock_filter)),
                  reinterpret_cast<sock_filter*>(const_cast<char*>(program.data()))};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) != 0) return fail_errno("load seccomp filter");
  return {};
}

Result<Fd> SeccompFilter::load() {
  int rc = seccomp_load(ctx_);
  if (rc != 0) return fail_system(-rc, "load seccomp filter");
  if (!notify_) return Fd();
  int fd = seccomp_notify_fd(ctx_);
  if (fd < 0) return fail_system(-fd, "get seccomp notify fd");
  return Fd(fd);
}

}  // namespace vessel::runtime
