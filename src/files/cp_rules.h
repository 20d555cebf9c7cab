// Docker's `cp` rules (docs/daemon/cp.md), as pure functions: which argument names an instance,
// what a trailing "/" or "/." means, and where a copy lands given what exists at the destination.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::files {

// "NAME:PATH" names PATH in the instance NAME; anything else is a local path ("-": a tar stream
// on stdin/stdout). As in Docker, a local path holding ':' is written with a '/' before the
// ':' (./a:b, /x/a:b).
struct CpArg {
  std::optional<std::string> instance;
  std::string path;
};
Result<CpArg> parse_cp_arg(std::string_view arg);

// "a/b/" or "a/b/." : the path must be a directory.
bool names_directory(std::string_view path);
// "a/b/." : the directory's contents, not the directory.
bool names_contents(std::string_view path);
// The last component, without trailing "/" or "/." ("" for "/" or "/.").
std::string base_name(std::string_view path);
// Everything before the last component ("/" for "/a", "." for "a").
std::string dir_name(std::string_view path);

// What a path is (when it exists).
enum class Kind { Missing, File, Directory };

// Where a copy of `src` lands: the archive of `src` is unpacked into the existing directory
// `dir` with its top entry renamed to `top` ("": the source's contents go straight into `dir`).
struct CopyPlan {
  std::string dir;
  std::string top;
};
// `src_kind` is never Missing (the caller reports a missing source); `dst_kind` is what exists at
// `dst`. Errors: ENOTDIR (a source "x/" that is a file, a destination "x/" that is a file),
// ENOENT (a file to "missing/": Docker wants the directory to exist), EISDIR (a directory over a
// file).
Result<CopyPlan> plan_copy(std::string_view src, Kind src_kind, std::string_view dst,
                           Kind dst_kind);

}  // namespace vessel::files
