// The WWW-Authenticate header of a registry's 401 (RFC 7235): the scheme ("Bearer", "Basic") and
// its parameters (realm, service, scope, error), quoted strings unescaped. The header comes from
// the network: anything malformed is an EINVAL error, never a crash (fuzzed: tests/fuzz/registry).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::daemon {

struct AuthChallenge {
  std::string scheme;                         // lower-cased: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lower-cased
  std::string param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? "" : it->second;
  }
};

// The first challenge of the header (a registry sends one).
Result<AuthChallenge> parse_www_authenticate(std::string_view header);

}  // namespace vessel::daemon
