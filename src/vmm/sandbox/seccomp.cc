#include "vmm/sandbox/seccomp.h"

#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <ctime>
#include <atomic>
#include <memory>

#include "base/fd.h"
#include "base/log.h"

namespace vessel::vmm::sandbox {
namespace {

struct CtxDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

Result<void> add_rule(scmp_filter_ctx ctx, ThreadKind kind, const SyscallRule& rule) {
  uint32_t action = rule.errno_instead ? SCMP_ACT_ERRNO(static_cast<uint32_t>(rule.errno_instead)) : SCMP_ACT_ALLOW;
  int r = seccomp_rule_add_array(ctx, action, rule.nr, static_cast<unsigned>(rule.args.size()),
                                 rule.args.empty() ? nullptr : rule.args.data());
  if (r < 0 && r != -EEXIST) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, rule.nr);
    std::string what = name ? name : std::to_string(rule.nr);
    free(name);
    return fail_system(-r, "seccomp filter '{}': cannot add syscall {}", to_string(kind), what);
  }
  return {};
}

// The compiled filters of enable(), indexed by ThreadKind.
constexpr size_t kKinds = std::size(kAllThreadKinds);
std::array<Program, kKinds> g_programs;
std::atomic<bool> g_enabled{false};
bool g_vmm_rebuilds = false;  // the Vmm program of g_programs allows rebuilding

}  // namespace

Result<Program> compile(ThreadKind kind, bool vmm_rebuilds) {
  Ctx ctx(seccomp_init(SCMP_ACT_KILL_PROCESS));
  if (!ctx) return fail(ENOMEM, "seccomp_init (out of memory)");
  if (int r = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); r < 0)
    return fail_system(-r, "seccomp: set the action for foreign architectures");
  if (int r = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 0); r < 0) return fail_system(-r, "seccomp: TSYNC off");
  for (const auto& rule : allowlist(kind, vmm_rebuilds)) TRY(add_rule(ctx.get(), kind, rule));
  // libseccomp 2.5 exports to a file descriptor only: read it back from a memfd.
  int mfd = static_cast<int>(::syscall(SYS_memfd_create, "seccomp-bpf", MFD_CLOEXEC));
  if (mfd < 0) return fail_errno("seccomp: memfd_create");
  Fd fd(mfd);
  if (int r = seccomp_export_bpf(ctx.get(), fd.get()); r < 0) return fail_system(-r, "seccomp: export filter '{}'", to_string(kind));
  off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) return fail(EIO, "seccomp: filter '{}' exported {} bytes", to_string(kind), size);
  Program program(static_cast<size_t>(size) / sizeof(sock_filter));
  if (::pread(fd.get(), program.data(), static_cast<size_t>(size), 0) != size) return fail_errno("seccomp: read back filter");
  return program;
}

Result<void> load(const Program& program) {
  sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return fail_errno("seccomp(SECCOMP_SET_MODE_FILTER)");
  return {};
}

Result<void> enable(bool vmm_rebuilds) {
  // glibc reads /etc/localtime on its first time conversion (the log's gmtime_r): now, not in a
  // confined thread that logs first.
  ::tzset();
  for (size_t i = 0; i < kKinds; ++i) g_programs[i] = TRY(compile(kAllThreadKinds[i], vmm_rebuilds));
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail_errno("prctl(PR_SET_NO_NEW_PRIVS)");
  g_vmm_rebuilds = vmm_rebuilds;
  g_enabled = true;
  return {};
}

bool enabled() { return g_enabled; }

void enter(ThreadKind kind) {
  if (!g_enabled) return;
  auto loaded = load(g_programs[static_cast<size_t>(kind)]);
  if (loaded) return;
  log::error("seccomp: cannot confine the {} thread: {}", to_string(kind), loaded.error().to_string());
  ::_exit(1);
}

void enter_vmm(bool rebuilds) {
  if (!g_enabled) return;
  if (rebuilds && !g_vmm_rebuilds) {
    auto program = compile(ThreadKind::Vmm, true);
    if (!program) {
      log::error("seccomp: cannot compile the vmm thread's filter: {}", program.error().to_string());
      ::_exit(1);
    }
    g_programs[static_cast<size_t>(ThreadKind::Vmm)] = std::move(*program);
    g_vmm_rebuilds = true;
  }
  enter(ThreadKind::Vmm);
}

}  // namespace vessel::vmm::sandbox
