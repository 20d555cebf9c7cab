#include "base/cli.h"

#include <unistd.h>

#include <cstdio>

namespace vessel::cli {

std::string format_error(const std::string& program, const Error& error) {
  std::string out = program + ": error: " + error.to_string();
  if (!error.hint().empty()) out += " (" + error.hint() + ")";
  return out;
}

void print_error(const std::string& program, const Error& error) {
  std::string line = format_error(program, error) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

bool stdout_is_tty() { return ::isatty(1) == 1; }

}  // namespace vessel::cli
