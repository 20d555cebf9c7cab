// Field parsers the parts of a spec share: bounded strings, absolute paths, lists of strings.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

inline constexpr size_t kMaxSpecItems = 256;  // env entries, labels, args, disks
inline constexpr size_t kMaxSpecStringBytes = 4096;

// A string of at most 4096 bytes without NUL bytes.
Result<std::string> bounded_string(const json::Json& j, std::string_view where);
// A bounded string that starts with '/'.
Result<std::string> absolute_path(const json::Json& j, std::string_view where);
// An array of at most 256 bounded strings (a command, an entrypoint).
Result<std::vector<std::string>> string_list(const json::Json& j, std::string_view where);

}  // namespace vessel::daemon
