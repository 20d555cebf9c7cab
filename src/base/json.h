// Small helpers over nlohmann::json that turn its exceptions into Result errors at the edge, and
// read typed fields with messages that name the field ("machine-config.vcpu_count: expected an
// integer, got string").
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::json {

using Json = nlohmann::json;

// Parses text; depth and size are bounded so that hostile input cannot exhaust the stack.
Result<Json> parse(std::string_view text, size_t max_bytes = 16 << 20, int max_depth = 64);

// Maximum nesting depth of a parsed document.
int depth(const Json& j);
// Serializes without throwing: bytes that are not UTF-8 (a hostile path, a guest's name) become
// U+FFFD instead of nlohmann's type_error 316.
std::string dump(const Json& j, int indent = -1);

std::string type_name(const Json& j);

// Field readers. `where` names the object for error messages ("drives[0]").
Result<std::string> get_string(const Json& obj, std::string_view where, const char* key);
Result<int64_t> get_int(const Json& obj, std::string_view where, const char* key);
Result<uint64_t> get_uint(const Json& obj, std::string_view where, const char* key);
Result<bool> get_bool(const Json& obj, std::string_view where, const char* key);
Result<std::optional<std::string>> opt_string(const Json& obj, std::string_view where, const char* key);
Result<std::optional<uint64_t>> opt_uint(const Json& obj, std::string_view where, const char* key);
Result<std::optional<bool>> opt_bool(const Json& obj, std::string_view where, const char* key);

// Refuses fields outside `known` (clients with typos get told, not ignored).
Result<void> reject_unknown(const Json& obj, std::string_view where, const std::set<std::string>& known);

}  // namespace vessel::json
