// A small command-line parser with runc's conventions: "--flag value", "--flag=value", short
// aliases, repeatable flags, and positional arguments; unknown flags are errors.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/error.h"

namespace vessel::runtime::cli {

struct FlagSpec {
  const char* name;   // "bundle"
  char short_name;    // 'b' or 0
  bool takes_value;
};

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> values;  // flag -> values ("" for booleans)
  std::vector<std::string> positional;
  bool has(const std::string& flag) const { return values.count(flag) != 0; }
  std::string get(const std::string& flag, const std::string& fallback = {}) const;
  const std::vector<std::string>& all(const std::string& flag) const;
};

// Parses args[begin..]. With stop_after_positional = n, everything after the n-th positional is
// taken verbatim (exec's command line).
Result<ParsedArgs> parse_args(const std::vector<std::string>& args, size_t begin,
                              const std::vector<FlagSpec>& flags, size_t stop_after_positional = 0);

}  // namespace vessel::runtime::cli
