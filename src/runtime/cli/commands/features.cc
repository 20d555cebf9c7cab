// vessel-runtime features: what this runtime supports, as JSON.
#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

Result<int> cmd_features(const Invocation&) {
  print_json(features());
  return 0;
}

}  // namespace vessel::runtime::cli
