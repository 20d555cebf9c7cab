// How every vessel program reports a fatal error to a person:
//   vessel-vmm: error: cannot open /dev/kvm: Permission denied (is the kvm module loaded? ...)
#pragma once

#include <string>

#include "base/error.h"

namespace vessel::cli {

// Formats "PROGRAM: error: CONTEXT: MESSAGE: STRERROR (HINT)".
std::string format_error(const std::string& program, const Error& error);
// Prints format_error() to stderr.
void print_error(const std::string& program, const Error& error);

// Exit codes shared by the tools: 0 ok, 1 failure, 2 usage error.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Is stdout a terminal (colours, progress bars)?
bool stdout_is_tty();

}  // namespace vessel::cli
