// vessel-runtime list [--quiet] [--format table|json]
#include <cstdio>

#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

Result<int> cmd_list(const Invocation& in) {
  auto a = TRY(in.parse({{"quiet", 'q', false}, {"format", 'f', true}, {"help", 'h', false}}));
  const GlobalOptions& g = in.g;
  auto all = TRY(list(g));
  if (a.has("quiet")) {
    for (const auto& j : all) std::cout << j["id"].get<std::string>() << "\n";
    return 0;
  }
  if (a.get("format", "table") == "json") {
    std::cout << nlohmann::ordered_json(all).dump() << std::endl;
    return 0;
  }
  std::printf("%-24s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  for (const auto& j : all)
    std::printf("%-24s %-8d %-10s %-40s %-32s %s\n", j["id"].get<std::string>().c_str(), j["pid"].get<int>(),
                j["status"].get<std::string>().c_str(), j["bundle"].get<std::string>().c_str(),
                j["created"].get<std::string>().c_str(), j.value("owner", "root").c_str());
  return 0;
}

}  // namespace vessel::runtime::cli
