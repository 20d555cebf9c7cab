// The build context a client sent (a tar, as Docker's API takes it), unpacked by the rules of
// `vessel cp` into a directory of the build (files::unpack: every entry, link and link target
// resolved inside it, ".." refused, no device nodes), its files owned by root. Then its Dockerfile
// and .dockerignore are read (inside the context: a symlink never leads out) and what
// .dockerignore excludes is removed, so COPY and ADD never see it.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::daemon::build {

inline constexpr size_t kMaxDockerfileBytes = 4 << 20;

struct BuildContext {
  std::string dir;         // the unpacked context
  std::string dockerfile;  // its text
};

// `tar`: the client's bytes; `dir`: an empty directory; `dockerfile`: its path in the context.
Result<BuildContext> unpack_build_context(std::string_view tar, const std::string& dir, const std::string& dockerfile);

// A file inside `root_dir`, read through the root (NOFOLLOW on nothing but escapes); ENOENT
// when it is not there. At most `limit` bytes.
Result<std::string> read_file_inside(const std::string& root_dir, const std::string& rel, size_t limit);

}  // namespace vessel::daemon::build
