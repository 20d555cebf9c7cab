// --env-file and --label-file, in Docker's format: one KEY=VALUE per line, taken as is (no
// quotes, no expansion); blank lines and lines starting with '#' are skipped; a bare KEY takes
// its value from this process's environment (an env file; skipped when unset there) or is empty
// (a label file).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace vessel::cli {

enum class BareKey { FromEnvironment, Empty };

// The KEY=VALUE entries of `text`; `where` names the file in errors.
Result<std::vector<std::string>> parse_env_lines(std::string_view text, BareKey bare, std::string_view where);
// Reads `path` (at most 1 MiB) and parses it.
Result<std::vector<std::string>> read_env_file(const std::string& path, BareKey bare);
// The entries of `paths`, in order; `flag` ("--env-file") is named in errors.
Result<std::vector<std::string>> read_env_files(const std::vector<std::string>& paths, BareKey bare, std::string_view flag);

}  // namespace vessel::cli
