// vessel-runtime create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ... CONTAINER-ID
#include <unistd.h>

#include <cstdlib>

#include "runtime/cli/command.h"
#include "runtime/self_clone.h"

namespace vessel::runtime::cli {

namespace {

const std::vector<FlagSpec> kCreateFlags = {{"bundle", 'b', true},         {"pid-file", 0, true},
                                            {"console-socket", 0, true},   {"no-pivot", 0, false},
                                            {"preserve-fds", 0, true},     {"no-new-keyring", 0, false},
                                            {"detach", 'd', false},        {"keep", 0, false},
                                            {"help", 'h', false}};

}  // namespace

Result<CreateOptions> parse_create(const Invocation& in, const char* cmd, ParsedArgs* parsed) {
  TRY(ensure_sealed_self(in.argv));
  ParsedArgs& a = *parsed;
  a = TRY(in.parse(kCreateFlags));
  TRY(need_id(a, cmd));
  CreateOptions o;
  o.id = a.positional[0];
  o.bundle = a.get("bundle", ".");
  o.pid_file = a.get("pid-file");
  o.console_socket = a.get("console-socket");
  o.no_pivot = a.has("no-pivot");
  if (a.has("preserve-fds")) o.preserve_fds = static_cast<int>(TRY(parse_int("preserve-fds", a.get("preserve-fds"))));
  if (const char* listen = getenv("LISTEN_FDS")) o.preserve_fds += atoi(listen);
  if (!o.pid_file.empty() && o.pid_file[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) o.pid_file = std::string(cwd) + "/" + o.pid_file;
  }
  return o;
}

Result<int> cmd_create(const Invocation& in) {
  ParsedArgs a;
  CreateOptions o = TRY(parse_create(in, "create", &a));
  return create(in.g, o);
}

}  // namespace vessel::runtime::cli
