// The kernel log as the host check reads it: what /dev/kmsg holds right now (read without
// blocking), else klogctl(2). Both need root where kernel.dmesg_restrict is 1.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace vessel::hostcheck {

// The text of the log's lines (no level, sequence or time stamp) that mention KVM or PVM, oldest
// first; nullopt when the log cannot be read here.
std::optional<std::vector<std::string>> read_kvm_log_lines();

// The text of a /dev/kmsg record ("6,339,373772,-;kvm-pvm: loaded") or of a klogctl line
// ("<6>[    0.373772] kvm-pvm: loaded"): "kvm-pvm: loaded". Exposed for tests.
std::string kernel_log_text(const std::string& record);

}  // namespace vessel::hostcheck
