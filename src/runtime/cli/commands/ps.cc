// vessel-runtime ps [--format table|json] CONTAINER-ID [PS-ARGS...]: the container's processes.
#include <algorithm>
#include <sstream>

#include "base/process.h"
#include "runtime/cli/command.h"
#include "runtime/cli/process_table.h"

namespace vessel::runtime::cli {

Result<int> cmd_ps(const Invocation& in) {
  auto a = TRY(in.parse({{"format", 'f', true}, {"help", 'h', false}}, 1));
  const GlobalOptions& g = in.g;
  if (a.positional.empty()) return fail(EINVAL, "ps: missing CONTAINER-ID");
  auto pids = TRY(ps(g, a.positional[0]));
  std::string format = a.get("format", "table");
  if (format == "json") {
    std::cout << json::Json(pids).dump() << std::endl;
    return 0;
  }
  if (format != "table") return fail(EINVAL, "ps: unknown format \"{}\"", format);
  if (a.positional.size() == 1) {  // ps -ef's columns, from /proc
    std::cout << process_table(pids) << std::flush;
    return 0;
  }
  std::vector<std::string> argv = {"ps"};
  argv.insert(argv.end(), a.positional.begin() + 1, a.positional.end());
  auto out = TRY(run_capture(argv));
  std::istringstream lines(out.out);
  std::string line;
  bool header = true;
  int pid_col = -1;
  while (std::getline(lines, line)) {
    std::istringstream ls(line);
    std::vector<std::string> cols;
    std::string w;
    while (ls >> w) cols.push_back(w);
    if (header) {
      for (size_t i = 0; i < cols.size(); ++i)
        if (cols[i] == "PID") pid_col = static_cast<int>(i);
      if (pid_col < 0) return fail(EINVAL, "ps: no PID column in the output of ps");
      std::cout << line << "\n";
      header = false;
      continue;
    }
    if (static_cast<int>(cols.size()) <= pid_col) continue;
    pid_t p = static_cast<pid_t>(atoi(cols[static_cast<size_t>(pid_col)].c_str()));
    if (std::find(pids.begin(), pids.end(), p) != pids.end()) std::cout << line << "\n";
  }
  return 0;
}

}  // namespace vessel::runtime::cli
