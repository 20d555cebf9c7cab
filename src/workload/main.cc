// vessel-workload: runs one workload of `vessel bench overhead` and prints its outcome as one
// line of JSON (docs/benchmarks/overhead.md). Static: it is copied into busybox containers and
// into the default guest, which have no libc of their own.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "workload/workloads.h"

namespace {

constexpr int kExitFailure = 1, kExitUsage = 2;

void usage(FILE* to) {
  std::fprintf(
      to,
      "usage: vessel-workload NAME [--scale F] [--dir DIR]\n"
      "       vessel-workload --list\n\n"
      "Runs one workload for a fixed amount of work and prints, on one line of JSON,\n"
      "{workload, work, unit, seconds, rate, checksum}: `seconds` times the work only\n"
      "(CLOCK_MONOTONIC, setup excluded); `checksum` depends on the work alone, so the same\n"
      "workload at the same scale gives the same checksum wherever it runs.\n\n"
      "Workloads (amounts at --scale 1):\n%s\n"
      "  --scale F   multiply the amount of work by F (0 < F <= 1000; default 1)\n"
      "  --dir DIR   where `file` writes (default /tmp; a tmpfs measures the file-system\n"
      "              code and page cache, a disk also the device)\n\n"
      "`vessel bench overhead` copies this program into a container and a VM and runs it there\n"
      "and on the host. Exit status: 0 done; 1 the workload failed (the message says which\n"
      "call); 2 usage error.\n",
      vessel::workload::describe().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  vessel::workload::Options options;
  std::string name;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    }
    if (a == "--list") {
      for (const auto& n : vessel::workload::names()) std::printf("%s\n", n.c_str());
      return 0;
    }
    if ((a == "--scale" || a == "--dir") && i + 1 < argc) {
      std::string v = argv[++i];
      if (a == "--dir") {
        options.dir = v;
        continue;
      }
      char* end = nullptr;
      options.scale = std::strtod(v.c_str(), &end);
      if (v.empty() || *end) {
        std::fprintf(stderr, "vessel-workload: error: --scale %s: not a number\n", v.c_str());
        return kExitUsage;
      }
      continue;
    }
    if (a.rfind("-", 0) == 0 || !name.empty()) {
      std::fprintf(stderr, "vessel-workload: error: unexpected argument %s (see --help)\n",
                   a.c_str());
      return kExitUsage;
    }
    name = a;
  }
  if (name.empty()) {
    usage(stderr);
    return kExitUsage;
  }
  auto outcome = vessel::workload::run(name, options);
  if (!outcome) {
    std::fprintf(stderr, "vessel-workload: error: %s: %s\n", name.c_str(), outcome.error().c_str());
    return kExitFailure;
  }
  std::printf("%s\n", vessel::workload::to_json(*outcome).c_str());
  return 0;
}
