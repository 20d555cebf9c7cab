// `vessel host check`: can this machine run vessel's VMs and containers, and how well?
// Probes the CPU, /dev/kvm and its capabilities and module flavour, cgroups, namespaces,
// overlayfs, tun, KSM, userfaultfd and io_uring, then prints a table (or JSON) and a verdict.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "hostcheck/cpuid.h"

namespace vessel::hostcheck {

struct Check {
  std::string section;  // "cpu", "kvm", "containers", "extras"
  std::string name;
  std::string value;    // what was found
  bool ok = true;       // false: a problem (required checks make the verdict fail)
  bool required_for_vms = false;
  bool required_for_containers = false;
  std::string note;     // what it means / what to do
};

struct Report {
  CpuInfo cpu;
  std::vector<Check> checks;
  bool vms_ok = false;
  bool containers_ok = false;
  std::vector<std::string> vm_problems;         // why VMs cannot run
  std::vector<std::string> container_problems;  // why containers cannot run
  std::string kvm_flavour;                      // "kvm_intel", "kvm_amd", "kvm_pvm", "unknown"
  nlohmann::json to_json() const;
  std::string to_table(bool color) const;
};

// Probes the real machine.
Report probe();

// Applies the verdict rules to a list of checks (exposed for tests).
void decide(Report& report);

struct Options {
  bool json = false;
};

// Prints the report; returns the exit status: 0 when VMs and containers can run, 1 otherwise.
int run(const Options& options);

}  // namespace vessel::hostcheck
