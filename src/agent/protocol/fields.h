// Reading one field of a message: each failure says which field and what was expected. Shared by
// the message and tree parsers (the guest's and the host's input alike).
#pragma once

#include <cstdint>
#include <string>

#include "agent/protocol/messages.h"

namespace vessel::agent {

tl::unexpected<std::string> bad(std::string what);
// An unsigned integer up to `max`.
Parsed<uint64_t> uint_field(const Json& j, const char* key, uint64_t max);
// A signed integer, any.
Parsed<int64_t> int_field(const Json& j, const char* key);

}  // namespace vessel::agent
