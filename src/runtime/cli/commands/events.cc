// vessel-runtime events [--stats] [--interval 5s] CONTAINER-ID
#include <chrono>
#include <thread>

#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

Result<int> cmd_events(const Invocation& in) {
  auto a = TRY(in.parse({{"stats", 0, false}, {"interval", 0, true}, {"help", 'h', false}}));
  const GlobalOptions& g = in.g;
  TRY(need_id(a, "events"));
  if (a.has("stats")) {
    std::cout << TRY(stats(g, a.positional[0])).dump() << std::endl;
    return 0;
  }
  std::string interval = a.get("interval", "5s");
  double secs = atof(interval.c_str());
  if (interval.find("ms") != std::string::npos) secs /= 1000;
  if (secs <= 0) secs = 5;
  for (;;) {
    auto st = state(g, a.positional[0]);
    if (!st || (*st)["status"] == "stopped") return 0;
    std::cout << TRY(stats(g, a.positional[0])).dump() << std::endl;
    std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  }
}

}  // namespace vessel::runtime::cli
