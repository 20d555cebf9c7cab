// vessel-runtime delete [--force] CONTAINER-ID
#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

Result<int> cmd_delete(const Invocation& in) {
  auto a = TRY(in.parse({{"force", 'f', false}, {"help", 'h', false}}));
  TRY(need_id(a, "delete"));
  TRY(remove(in.g, a.positional[0], a.has("force")));
  return 0;
}

}  // namespace vessel::runtime::cli
