// Docker's word processing for the instructions that expand variables (ADD, COPY, ENV, EXPOSE,
// FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG defaults, ONBUILD): quotes removed ('...'
// literal, "..." expanded), the escape character quotes the next character, and $NAME, ${NAME},
// ${NAME:-word}, ${NAME-word}, ${NAME:+word}, ${NAME+word}, ${NAME:?message} and ${NAME?message}
// expanded from the build's variables. RUN, CMD and ENTRYPOINT are not expanded here: their shell
// does it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "daemon/images/dockerfile.h"

namespace vessel::daemon::dockerfile {

// Set variables; a name absent from the map is unset (an empty value is set).
using Vars = std::map<std::string, std::string, std::less<>>;

// The text split on unquoted whitespace into processed words.
Result<std::vector<std::string>> words(std::string_view text, const Vars& vars, char escape = '\\');
// The text processed as one word: whitespace kept.
Result<std::string> word(std::string_view text, const Vars& vars, char escape = '\\');

// ENV, LABEL and ARG: name=value pairs (ENV's legacy "ENV name value..." form too). ARG's value
// may be absent ("ARG name"): its pair's value is then nullopt.
struct KeyValue {
  std::string key;
  std::optional<std::string> value;
};
Result<std::vector<KeyValue>> key_values(const Instruction& in, const Vars& vars, char escape = '\\');

}  // namespace vessel::daemon::dockerfile
