// The device allowlist of a cgroup v2 group: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE
// generated from the OCI rules (linux.resources.devices), loaded and attached with bpf(2).
//
// Semantics (those of runc's and crun's v2 programs, which follow cgroup v1): the default is deny;
// the rules are read in order and, for each access a request asks for (r, w, m), the last rule
// that matches the device's type, major and minor and names that access decides it. A request is
// allowed when every access it asks for is allowed. A rule with type "a" matches block and
// character devices; a missing (or negative) major or minor matches any.
#pragma once

#include <linux/bpf.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "runtime/spec/spec.h"

namespace vessel::runtime {

// Rules beyond this are refused (the program stays far below the verifier's limits).
inline constexpr size_t kMaxDeviceRules = 1000;

// The program for `rules`; EINVAL names the rule that is out of range.
Result<std::vector<bpf_insn>> device_filter_program(const std::vector<DeviceRule>& rules);

// Loads the program (the verifier's log is in the error when it refuses it).
Result<Fd> load_device_filter(const std::vector<bpf_insn>& program);

// Attaches `program` to the cgroup v2 directory `dir` (BPF_F_ALLOW_MULTI), then detaches the
// device programs that were attached there before: an update replaces the rules.
Result<void> attach_device_filter(const std::string& dir, const Fd& program);

}  // namespace vessel::runtime
