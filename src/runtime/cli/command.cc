#include "runtime/cli/command.h"

#include <cstdlib>

#include "runtime/spec/spec.h"

namespace vessel::runtime::cli {

namespace {

const Command kCommands[] = {
    {"create", cmd_create}, {"run", cmd_run},       {"start", cmd_start},   {"state", cmd_state},
    {"pause", cmd_pause},   {"resume", cmd_resume}, {"kill", cmd_kill},     {"delete", cmd_delete},
    {"exec", cmd_exec, true}, {"ps", cmd_ps},       {"update", cmd_update}, {"events", cmd_events},
    {"list", cmd_list},     {"spec", cmd_spec},     {"features", cmd_features},
    {"checkpoint", cmd_checkpoint}, {"restore", cmd_restore}};

}  // namespace

const Command* find_command(std::string_view name) {
  for (const auto& c : kCommands)
    if (name == c.name) return &c;
  return nullptr;
}

Result<int> need_id(const ParsedArgs& a, const char* cmd, size_t max_extra) {
  if (a.positional.empty()) return hinted(fail(EINVAL, "{}: missing CONTAINER-ID", cmd), fmt::format("see {} --help", cmd));
  if (a.positional.size() > 1 + max_extra) return fail(EINVAL, "{}: too many arguments", cmd);
  return 0;
}

Result<int64_t> parse_int(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  long long v = strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end) return fail(EINVAL, "--{}: \"{}\" is not an integer", flag, text);
  return v;
}

}  // namespace vessel::runtime::cli
