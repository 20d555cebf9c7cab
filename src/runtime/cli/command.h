// vessel-runtime's commands, one file each under cli/commands/, found by name in a table
// (command.cc). Each parses its own flags and calls one function of runtime/container.h.
#pragma once

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "runtime/cli/args.h"
#include "runtime/container.h"

namespace vessel::runtime::cli {

// One command line, from the command name on.
struct Invocation {
  const GlobalOptions& g;
  const std::vector<std::string>& args;
  size_t at;  // the first argument after the command name
  char** argv;  // the process's own, for ensure_sealed_self

  Result<ParsedArgs> parse(const std::vector<FlagSpec>& flags, size_t stop_after_positional = 0) const {
    return parse_args(args, at, flags, stop_after_positional);
  }
};

struct Command {
  const char* name;
  Result<int> (*run)(const Invocation&);
  bool own_help = false;  // parses --help itself (exec: flags after the command are the process's)
};

// nullptr for an unknown name.
const Command* find_command(std::string_view name);

// Helpers shared by the commands.
Result<int> need_id(const ParsedArgs& a, const char* cmd, size_t max_extra = 0);
Result<int64_t> parse_int(const std::string& flag, const std::string& text);
template <typename J>
void print_json(const J& j) {
  std::cout << j.dump(2) << std::endl;
}

// create's and run's flags (create.cc).
Result<CreateOptions> parse_create(const Invocation& in, const char* cmd, ParsedArgs* parsed);

Result<int> cmd_create(const Invocation& in);
Result<int> cmd_run(const Invocation& in);
Result<int> cmd_start(const Invocation& in);
Result<int> cmd_state(const Invocation& in);
Result<int> cmd_pause(const Invocation& in);
Result<int> cmd_resume(const Invocation& in);
Result<int> cmd_kill(const Invocation& in);
Result<int> cmd_delete(const Invocation& in);
Result<int> cmd_exec(const Invocation& in);
Result<int> cmd_ps(const Invocation& in);
Result<int> cmd_update(const Invocation& in);
Result<int> cmd_events(const Invocation& in);
Result<int> cmd_list(const Invocation& in);
Result<int> cmd_spec(const Invocation& in);
Result<int> cmd_features(const Invocation& in);
Result<int> cmd_checkpoint(const Invocation& in);
Result<int> cmd_restore(const Invocation& in);

}  // namespace vessel::runtime::cli
