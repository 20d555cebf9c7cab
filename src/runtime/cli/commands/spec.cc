// vessel-runtime spec [--bundle DIR] [--rootless]: writes a default config.json.
#include <unistd.h>

#include "base/fd.h"
#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

Result<int> cmd_spec(const Invocation& in) {
  auto a = TRY(in.parse({{"bundle", 'b', true}, {"rootless", 0, false}, {"help", 'h', false}}));
  std::string dir = a.get("bundle", ".");
  std::string path = dir + "/config.json";
  if (access(path.c_str(), F_OK) == 0) return fail(EEXIST, "File {} exists. Remove it first", path);
  TRY(write_file(path, default_spec(a.has("rootless")).dump(2) + "\n"));
  return 0;
}

}  // namespace vessel::runtime::cli
