// vessel-runtime exec [flags] CONTAINER-ID COMMAND [ARG...]: everything after the command is the
// process's own (so --help there is not ours).
#include "runtime/cli/command.h"
#include "runtime/cli/help.h"
#include "runtime/self_clone.h"

namespace vessel::runtime::cli {

namespace {

const std::vector<FlagSpec> kExecFlags = {
    {"process", 'p', true},     {"tty", 't', false},          {"console-socket", 0, true},
    {"pid-file", 0, true},      {"detach", 'd', false},       {"env", 'e', true},
    {"cwd", 0, true},           {"user", 'u', true},          {"additional-gids", 'g', true},
    {"cap", 'c', true},         {"no-new-privs", 0, false},   {"preserve-fds", 0, true},
    {"process-label", 0, true}, {"apparmor", 0, true},        {"ignore-paused", 0, false},
    {"cgroup", 0, true},        {"help", 'h', false}};

}  // namespace

Result<int> cmd_exec(const Invocation& in) {
  auto a = TRY(in.parse(kExecFlags, 1));
  if (a.has("help")) {
    std::cout << command_help("exec");
    return 0;
  }
  TRY(ensure_sealed_self(in.argv));
  if (a.positional.empty()) return fail(EINVAL, "exec: missing CONTAINER-ID");
  ExecOptions o;
  o.id = a.positional[0];
  o.args.assign(a.positional.begin() + 1, a.positional.end());
  o.process_file = a.get("process");
  o.tty = a.has("tty");
  o.console_socket = a.get("console-socket");
  o.pid_file = a.get("pid-file");
  o.detach = a.has("detach");
  o.env = a.all("env");
  o.cwd = a.get("cwd");
  o.user = a.get("user");
  for (const auto& gid : a.all("additional-gids")) o.additional_gids.push_back(static_cast<uint32_t>(TRY(parse_int("additional-gids", gid))));
  o.caps = a.all("cap");
  o.no_new_privs = a.has("no-new-privs");
  o.ignore_paused = a.has("ignore-paused");
  if (a.has("preserve-fds")) o.preserve_fds = static_cast<int>(TRY(parse_int("preserve-fds", a.get("preserve-fds"))));
  return exec(in.g, o);
}

}  // namespace vessel::runtime::cli
