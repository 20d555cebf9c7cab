// Fuzz target: Dockerfile text, as `vessel build` gets it from a client. Parsed, then every
// instruction's words and name=value pairs processed with a few variables set, as the build
// would. Errors are fine; crashes, sanitizer reports and uncaught exceptions are not.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/images/dockerfile.h"
#include "daemon/images/dockerfile_words.h"

namespace {

using namespace vessel::daemon::dockerfile;

void process(const Instruction& in, const Vars& vars, char escape) {
  (void)words(in.args, vars, escape);
  (void)word(in.args, vars, escape);
  if (in.keyword == "ENV" || in.keyword == "LABEL" || in.keyword == "ARG") (void)key_values(in, vars, escape);
  for (const auto& t : in.trigger) process(t, vars, escape);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto d = parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!d) return 0;
  Vars vars{{"A", "a b"}, {"EMPTY", ""}, {"HOME", "/root"}};
  for (const auto& a : d->global_args) process(a, vars, d->escape);
  for (const auto& s : d->stages) {
    (void)words(s.base, vars, d->escape);
    for (const auto& in : s.instructions) process(in, vars, d->escape);
    (void)d->target(s.name);
  }
  return 0;
}
