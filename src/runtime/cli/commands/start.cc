// vessel-runtime start CONTAINER-ID
#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

Result<int> cmd_start(const Invocation& in) {
  auto a = TRY(in.parse({{"help", 'h', false}}));
  TRY(need_id(a, "start"));
  TRY(start(in.g, a.positional[0]));
  return 0;
}

}  // namespace vessel::runtime::cli
