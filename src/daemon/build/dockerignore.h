// .dockerignore, as Docker reads it: one pattern a line, `#` comments, blank lines skipped;
// patterns are cleaned paths relative to the context (a leading `/` is dropped), matched with
// Go's filepath.Match per path component (`*`, `?`, `[...]`, `\` escapes) plus `**` for any
// number of components; a path is excluded by the last pattern that matches it or one of its
// parent directories, and a `!pattern` brings it back.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vessel::daemon::build {

class DockerIgnore {
 public:
  static DockerIgnore parse(std::string_view text);

  // `path`: relative to the context, '/'-separated, no leading '/'.
  bool excluded(std::string_view path) const;
  bool empty() const { return patterns_.empty(); }
  // Some `!` pattern may bring back a path below an excluded directory.
  bool has_exceptions() const { return has_exceptions_; }

 private:
  struct Pattern {
    std::vector<std::string> parts;
    bool exception = false;
  };
  std::vector<Pattern> patterns_;
  bool has_exceptions_ = false;
};

}  // namespace vessel::daemon::build
