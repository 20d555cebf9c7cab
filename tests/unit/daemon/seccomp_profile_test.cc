// vesseld's default container seccomp profile (Docker's allowlist, as data).
#include "daemon/instances/seccomp_profile.h"

#include <gtest/gtest.h>
#include <seccomp.h>

#include <set>
#include <string>

namespace vessel::daemon {
namespace {

std::set<std::string> unconditionally_allowed(const json::Json& profile) {
  std::set<std::string> names;
  for (const auto& rule : profile["syscalls"])
    if (rule["action"] == "SCMP_ACT_ALLOW" && !rule.contains("args"))
      for (const auto& n : rule["names"]) names.insert(n.get<std::string>());
  return names;
}

// A system call name libseccomp knows on one of the architectures Docker's list covers.
bool known_call(const std::string& name) {
  const uint32_t arches[] = {static_cast<uint32_t>(SCMP_ARCH_X86_64), static_cast<uint32_t>(SCMP_ARCH_X86),
                             static_cast<uint32_t>(SCMP_ARCH_X32), static_cast<uint32_t>(SCMP_ARCH_ARM),
                             static_cast<uint32_t>(SCMP_ARCH_AARCH64)};
  for (uint32_t arch : arches)
    if (seccomp_syscall_resolve_name_arch(arch, name.c_str()) != __NR_SCMP_ERROR) return true;
  return false;
}

// The list is a long C array of string literals: a missing comma silently glues two names into
// one that matches no system call, and both calls get EPERM in every container ("write", "writev"
// then "process_vm_readv" became "writevprocess_vm_readv"; clang's -Wstring-concatenation found it).
// So a listed name that libseccomp does not know must not split into two names it knows (one
// newer than Debian 12's libseccomp does: statmount = stat + mount).
TEST(SeccompProfile, NoNameIsTwoNamesGluedTogether) {
  auto names = unconditionally_allowed(default_seccomp_profile({"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_DAC_READ_SEARCH"}));
  ASSERT_GT(names.size(), 300u);
  ASSERT_FALSE(known_call("writevprocess_vm_readv"));
  for (const auto& n : names) {
    if (known_call(n) || n == "statmount") continue;
    for (size_t cut = 1; cut < n.size(); ++cut)
      EXPECT_FALSE(known_call(n.substr(0, cut)) && known_call(n.substr(cut))) << n << " = " << n.substr(0, cut) << " + " << n.substr(cut);
  }
}

TEST(SeccompProfile, EverydayCallsAreAllowedAndAdminOnesOnlyWithTheirCapability) {
  auto plain = unconditionally_allowed(default_seccomp_profile({}));
  for (const char* n : {"read", "write", "writev", "readv", "openat", "execve", "process_vm_readv", "process_vm_writev",
                        "ptrace", "futex", "exit_group"})
    EXPECT_TRUE(plain.count(n)) << n;
  for (const char* n : {"mount", "unshare", "setns", "bpf", "reboot", "open_by_handle_at", "kexec_load", "init_module"})
    EXPECT_FALSE(plain.count(n)) << n;
  auto admin = unconditionally_allowed(default_seccomp_profile({"CAP_SYS_ADMIN"}));
  EXPECT_TRUE(admin.count("mount") && admin.count("unshare") && admin.count("setns"));
  EXPECT_FALSE(admin.count("kexec_load"));
}

}  // namespace
}  // namespace vessel::daemon
