#include "daemon/policy/capacity.h"

#include <unistd.h>

#include <sstream>

#include "base/fd.h"

namespace vessel::daemon {

Result<Capacity> discover_capacity() {
  Capacity c;
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (n <= 0) return fail_errno("sysconf(_SC_NPROCESSORS_ONLN)");
  c.cpus = static_cast<double>(n);
  auto meminfo = TRY(read_file("/proc/meminfo"));
  std::istringstream in(meminfo);
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemTotal:") {
      c.memory_mib = kib / 1024;
      return c;
    }
  }
  return fail(EIO, "no MemTotal in /proc/meminfo");
}

Result<void> admit(const Capacity& capacity, const Overcommit& ratio, const std::vector<Reservation>& existing,
                   const Reservation& wanted) {
  double cpus = 0;
  uint64_t mem = 0;
  for (const auto& r : existing) {
    cpus += r.cpus;
    mem += r.memory_mib;
  }
  double cpu_limit = capacity.cpus * ratio.cpu;
  double mem_limit = static_cast<double>(capacity.memory_mib) * ratio.memory;
  if (cpus + wanted.cpus > cpu_limit + 1e-9)
    return Unexpected(Error(EAGAIN, fmt::format("not enough CPU: {:.2f} reserved + {:.2f} wanted > {:.2f} allowed "
                                                "({} host CPUs x overcommit {:.2f})",
                                                cpus, wanted.cpus, cpu_limit, capacity.cpus, ratio.cpu))
                          .with_hint("lower --cpus or the reservation, stop something, or raise --cpu-overcommit"));
  if (static_cast<double>(mem + wanted.memory_mib) > mem_limit + 1e-9)
    return Unexpected(Error(EAGAIN, fmt::format("not enough memory: {} MiB reserved + {} MiB wanted > {:.0f} MiB allowed "
                                                "({} MiB host memory x overcommit {:.2f})",
                                                mem, wanted.memory_mib, mem_limit, capacity.memory_mib, ratio.memory))
                          .with_hint("lower --memory or the reservation, delete something, or raise --memory-overcommit"));
  return {};
}

}  // namespace vessel::daemon
