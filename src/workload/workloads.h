// The workloads of `vessel bench overhead` (docs/benchmarks/overhead.md): each does a fixed amount
// of work, the same wherever it runs (on the host, in a container, in a VM), and times only that.
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "workload/outcome.h"

namespace vessel::workload {

struct Options {
  double scale = 1;          // multiplies every workload's amount of work (0 < scale <= 1000)
  std::string dir = "/tmp";  // where `file` writes its files
};

// Why a workload could not run (a failed call, with its errno text).
using Result = tl::expected<Outcome, std::string>;

// The workloads' names, in the order reports list them: cpu, mem, syscall, file, net.
const std::vector<std::string>& names();
// One line per workload: its name and what it does at scale 1.
std::string describe();

Result run(const std::string& name, const Options& options);

// The pieces, for the unit tests; `count` is the amount of work in the workload's own unit.
Result cpu_loop(uint64_t iterations);
Result memory_copy(uint64_t copies);                     // copies of a 32 MiB buffer
Result syscall_loop(uint64_t calls);                     // getppid(2), never cached by libc
Result file_io(uint64_t files, const std::string& dir);  // 4 MiB each: write, read back, unlink
Result loopback_tcp(uint64_t mib);                       // over 127.0.0.1, to a child process

}  // namespace vessel::workload
