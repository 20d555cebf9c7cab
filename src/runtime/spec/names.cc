// Name tables of the spec: capabilities, rlimits, namespaces.
#include <sched.h>
#include <sys/resource.h>

#include <array>
#include <cstring>
#include <string>

#include "runtime/spec/spec.h"

namespace vessel::runtime {

namespace {
constexpr std::array<const char*, 41> kCapNames = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};

struct RlimitName {
  const char* name;
  int resource;
};
constexpr RlimitName kRlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

struct NsName {
  const char* type;
  const char* proc;
  int flag;
};
constexpr NsName kNamespaces[] = {
    {"pid", "pid", CLONE_NEWPID},       {"network", "net", CLONE_NEWNET},
    {"mount", "mnt", CLONE_NEWNS},      {"ipc", "ipc", CLONE_NEWIPC},
    {"uts", "uts", CLONE_NEWUTS},       {"user", "user", CLONE_NEWUSER},
    {"cgroup", "cgroup", CLONE_NEWCGROUP}, {"time", "time", 0x80 /* CLONE_NEWTIME */},
};
}  // namespace

int last_capability() { return static_cast<int>(kCapNames.size()) - 1; }

Result<int> capability_from_name(std::string_view name) {
  std::string full(name);
  if (full.rfind("CAP_", 0) != 0 && full.rfind("cap_", 0) != 0) full = "CAP_" + full;
  for (auto& c : full) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  for (size_t i = 0; i < kCapNames.size(); ++i)
    if (full == kCapNames[i]) return static_cast<int>(i);
  return fail(EINVAL, "unknown capability \"{}\"", name);
}

std::string capability_name(int cap) {
  if (cap >= 0 && cap < static_cast<int>(kCapNames.size())) return kCapNames[cap];
  return fmt::format("CAP_{}", cap);
}

Result<int> rlimit_from_name(std::string_view name) {
  for (const auto& r : kRlimits)
    if (name == r.name) return r.resource;
  return fail(EINVAL, "unknown rlimit \"{}\"", name);
}

int namespace_flag(std::string_view type) {
  for (const auto& n : kNamespaces)
    if (type == n.type) return n.flag;
  return 0;
}

const char* namespace_proc_name(std::string_view type) {
  for (const auto& n : kNamespaces)
    if (type == n.type) return n.proc;
  return nullptr;
}

}  // namespace vessel::runtime
