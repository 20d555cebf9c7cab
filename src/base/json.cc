#include "base/json.h"

namespace vessel::json {

Result<Json> parse(std::string_view text, size_t max_bytes, int max_depth) {
  if (text.size() > max_bytes)
    return fail(E2BIG, "JSON document of {} bytes is larger than the limit of {} bytes", text.size(),
                max_bytes);
  // Reject deep nesting before building the tree: nlohmann's parser recurses per level.
  int d = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') {
      if (++d > max_depth) return fail(EINVAL, "JSON nested deeper than {} levels", max_depth);
    } else if (c == '}' || c == ']') {
      --d;
    }
  }
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    return fail(EINVAL, "invalid JSON: {}", e.what());
  }
}

int depth(const Json& j) {
  if (!j.is_structured()) return 0;
  int best = 0;
  for (const auto& child : j) best = std::max(best, depth(child));
  return best + 1;
}

std::string type_name(const Json& j) { return j.type_name(); }

namespace {
std::string field(std::string_view where, std::string_view key) {
  if (where.empty()) return std::string(key);
  return fmt::format("{}.{}", where, key);
}

Result<const Json*> find(const Json& obj, std::string_view where, const char* key, bool required) {
  if (!obj.is_object())
    return fail(EINVAL, "{}: expected an object, got {}", where.empty() ? "document" : where,
                obj.type_name());
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return fail(EINVAL, "{}: required field is missing", field(where, key));
    return nullptr;
  }
  return &*it;
}
}  // namespace

Result<std::string> get_string(const Json& obj, std::string_view where, const char* key) {
  auto v = TRY(opt_string(obj, where, key));
  if (!v) return fail(EINVAL, "{}: required field is missing", field(where, key));
  return *v;
}

Result<int64_t> get_int(const Json& obj, std::string_view where, const char* key) {
  const Json* j = TRY(find(obj, where, key, true));
  if (!j->is_number_integer())
    return fail(EINVAL, "{}: expected an integer, got {}", field(where, key), j->type_name());
  return j->get<int64_t>();
}

Result<uint64_t> get_uint(const Json& obj, std::string_view where, const char* key) {
  auto v = TRY(opt_uint(obj, where, key));
  if (!v) return fail(EINVAL, "{}: required field is missing", field(where, key));
  return *v;
}

Result<bool> get_bool(const Json& obj, std::string_view where, const char* key) {
  auto v = TRY(opt_bool(obj, where, key));
  if (!v) return fail(EINVAL, "{}: required field is missing", field(where, key));
  return *v;
}

Result<std::optional<std::string>> opt_string(const Json& obj, std::string_view where,
                                              const char* key) {
  const Json* j = TRY(find(obj, where, key, false));
  if (j == nullptr) return std::optional<std::string>{};
  if (!j->is_string())
    return fail(EINVAL, "{}: expected a string, got {}", field(where, key), j->type_name());
  return std::optional<std::string>(j->get<std::string>());
}

Result<std::optional<uint64_t>> opt_uint(const Json& obj, std::string_view where, const char* key) {
  const Json* j = TRY(find(obj, where, key, false));
  if (j == nullptr) return std::optional<uint64_t>{};
  if (j->is_number_unsigned()) return std::optional<uint64_t>(j->get<uint64_t>());
  if (j->is_number_integer())
    return fail(EINVAL, "{}: must not be negative", field(where, key));
  return fail(EINVAL, "{}: expected a non-negative integer, got {}", field(where, key),
              j->type_name());
}

Result<std::optional<bool>> opt_bool(const Json& obj, std::string_view where, const char* key) {
  const Json* j = TRY(find(obj, where, key, false));
  if (j == nullptr) return std::optional<bool>{};
  if (!j->is_boolean())
    return fail(EINVAL, "{}: expected true or false, got {}", field(where, key), j->type_name());
  return std::optional<bool>(j->get<bool>());
}

Result<void> reject_unknown(const Json& obj, std::string_view where,
                            const std::set<std::string>& known) {
  if (!obj.is_object()) return {};
  for (const auto& [k, v] : obj.items()) {
    if (!known.contains(k)) return fail(EINVAL, "{}: unknown field", field(where, k));
  }
  return {};
}

std::string dump(const Json& j, int indent) { return j.dump(indent, ' ', false, Json::error_handler_t::replace); }

}  // namespace vessel::json
