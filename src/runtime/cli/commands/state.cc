// vessel-runtime state CONTAINER-ID: the OCI state as JSON.
#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

Result<int> cmd_state(const Invocation& in) {
  auto a = TRY(in.parse({{"help", 'h', false}}));
  TRY(need_id(a, "state"));
  print_json(TRY(state(in.g, a.positional[0])));
  return 0;
}

}  // namespace vessel::runtime::cli
