#include "agent/protocol/fields.h"

namespace vessel::agent {

tl::unexpected<std::string> bad(std::string what) { return tl::unexpected(std::move(what)); }

Parsed<uint64_t> uint_field(const Json& j, const char* key, uint64_t max) {
  if (!j.contains(key)) return bad(std::string(key) + ": missing");
  const Json& v = j[key];
  if (!v.is_number_unsigned() || v.get<uint64_t>() > max)
    return bad(std::string(key) + ": expected an integer up to " + std::to_string(max));
  return v.get<uint64_t>();
}

Parsed<int64_t> int_field(const Json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number_integer()) return bad(std::string(key) + ": expected an integer");
  return j[key].get<int64_t>();
}

}  // namespace vessel::agent
