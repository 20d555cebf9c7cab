// `vessel-runtime ps ID` without ps arguments: the container's processes in `ps -ef`'s columns
// (UID PID PPID C STIME TTY TIME CMD), read from /proc here instead of running ps(1) over every
// process of the host and filtering (runc's way: a process start and a walk of all of /proc).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace vessel::runtime::cli {

// The table's text, header first; a process that is gone meanwhile is left out.
std::string process_table(const std::vector<pid_t>& pids);

}  // namespace vessel::runtime::cli
