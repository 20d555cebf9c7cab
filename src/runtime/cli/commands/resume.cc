// vessel-runtime resume CONTAINER-ID
#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

Result<int> cmd_resume(const Invocation& in) {
  auto a = TRY(in.parse({{"help", 'h', false}}));
  TRY(need_id(a, "resume"));
  TRY(resume(in.g, a.positional[0]));
  return 0;
}

}  // namespace vessel::runtime::cli
