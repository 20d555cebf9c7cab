// Fuzz target: Dockerfile text, as `vessel build` gets it from a client. Parsed, then every
// instruction's words and name=value pairs processed with a few variables set, as the build
// would. The same bytes are read as a .dockerignore too (daemon/build/dockerignore.h) and a few
// paths matched against it. Errors are fine; crashes, sanitizer reports and uncaught exceptions
// are not.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/build/dockerignore.h"
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
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ignore = vessel::daemon::build::DockerIgnore::parse(text);
  for (const char* path : {"a", "a/b/c", "node_modules/x.js", ".git/HEAD", "a/../b", "**/x"}) (void)ignore.excluded(path);
  auto d = parse(text);
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
