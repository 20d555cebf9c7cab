// One line of the host check's report: what was looked at, what was found, and what it means.
#pragma once

#include <string>

namespace vessel::hostcheck {

struct Check {
  std::string section;  // "cpu", "kvm", "containers", "extras"
  std::string name;
  std::string value;  // what was found
  bool ok = true;     // false: a problem (required checks make the verdict fail)
  bool required_for_vms = false;
  bool required_for_containers = false;
  std::string note;  // what it means / what to do
};

}  // namespace vessel::hostcheck
