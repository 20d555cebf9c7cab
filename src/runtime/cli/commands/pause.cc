// vessel-runtime pause CONTAINER-ID
#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

Result<int> cmd_pause(const Invocation& in) {
  auto a = TRY(in.parse({{"help", 'h', false}}));
  TRY(need_id(a, "pause"));
  TRY(pause(in.g, a.positional[0]));
  return 0;
}

}  // namespace vessel::runtime::cli
