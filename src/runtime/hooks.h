// OCI hooks: path + args + env, the container state on stdin, an optional timeout in seconds.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "runtime/spec/spec.h"

namespace vessel::runtime {

Result<void> run_hook(const Hook& hook, const std::string& state_json);
// Runs hooks in order; stops at the first failure ("hooks.prestart[1]: ...").
Result<void> run_hooks(const std::vector<Hook>& hooks, const char* kind, const std::string& state_json);

}  // namespace vessel::runtime
