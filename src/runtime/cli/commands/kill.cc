// vessel-runtime kill [--all] CONTAINER-ID [SIGNAL]
#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

Result<int> cmd_kill(const Invocation& in) {
  auto a = TRY(in.parse({{"all", 'a', false}, {"help", 'h', false}}));
  TRY(need_id(a, "kill", 1));
  int sig = TRY(parse_signal(a.positional.size() > 1 ? a.positional[1] : "TERM"));
  TRY(kill(in.g, a.positional[0], sig, a.has("all")));
  return 0;
}

}  // namespace vessel::runtime::cli
