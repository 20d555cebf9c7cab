// A directory being filled from a hostile archive. Every path inside it is resolved with
// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from the directory's fd, so a symlink the
// archive planted ("x -> /etc", "y -> ../../..") resolves inside the directory as if it were
// "/", never on the host; the last component is then acted on with *at calls that do not follow
// it. No string path inside the root is ever handed to the kernel.
#pragma once

#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::files {

class ConfinedRoot {
 public:
  // Opens `dir` (an existing directory that the caller made).
  static Result<ConfinedRoot> open(const std::string& dir);

  // openat2 of `rel` inside the root.
  Result<Fd> open(const std::string& rel, int flags) const;
  // The directory `rel` inside the root, opened O_RDONLY; with `create`, missing components are
  // made (0755). A component that is a file, or a symlink to nothing, is an error.
  Result<Fd> open_dir(const std::string& rel, bool create) const;

 private:
  explicit ConfinedRoot(Fd fd) : fd_(std::move(fd)) {}
  Result<Fd> make_dirs(const std::string& rel) const;

  Fd fd_;
};

// Removes `name` from the directory `dir` (a directory with everything in it), never following
// a symlink. A missing `name` is not an error.
Result<void> remove_at(int dir, const std::string& name);

}  // namespace vessel::files
