// vessel-runtime run [create's flags] [--detach] CONTAINER-ID: create and start, in the foreground
// unless detached.
#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

Result<int> cmd_run(const Invocation& in) {
  ParsedArgs a;
  CreateOptions o = TRY(parse_create(in, "run", &a));
  o.detach = a.has("detach");
  return run(in.g, o);
}

}  // namespace vessel::runtime::cli
