#include "daemon/spec/spec_fields.h"

namespace vessel::daemon {

Result<std::string> bounded_string(const json::Json& j, std::string_view where) {
  if (!j.is_string()) return fail(EINVAL, "{}: expected a string, got {}", where, json::type_name(j));
  auto s = j.get<std::string>();
  if (s.size() > kMaxSpecStringBytes) return fail(EINVAL, "{}: longer than {} bytes", where, kMaxSpecStringBytes);
  if (s.find('\0') != std::string::npos) return fail(EINVAL, "{}: contains a NUL byte", where);
  return s;
}

Result<std::string> absolute_path(const json::Json& j, std::string_view where) {
  auto s = TRY(bounded_string(j, where));
  if (s.empty() || s[0] != '/') return fail(EINVAL, "{}: '{}' is not an absolute path", where, s);
  return s;
}

Result<std::vector<std::string>> string_list(const json::Json& j, std::string_view where) {
  if (!j.is_array()) return fail(EINVAL, "{}: expected an array of strings, got {}", where, json::type_name(j));
  if (j.size() > kMaxSpecItems) return fail(EINVAL, "{}: more than {} items", where, kMaxSpecItems);
  std::vector<std::string> out;
  for (size_t i = 0; i < j.size(); ++i) out.push_back(TRY(bounded_string(j[i], fmt::format("{}[{}]", where, i))));
  return out;
}

}  // namespace vessel::daemon
