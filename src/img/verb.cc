#include "img/verb.h"

#include "base/cli.h"

namespace vessel::img {

int report(const Error& e) {
  cli::print_error(kProg, e);
  return 1;
}

Result<std::optional<block::Format>> opt_format(const std::string& name) {
  if (name.empty()) return std::optional<block::Format>();
  return std::optional<block::Format>(TRY(block::parse_format(name)));
}

std::string fmt_help() { return "image format: raw or qcow2 (probed from the magic when omitted)"; }

}  // namespace vessel::img
