// What a path in an instance is, as the archive endpoints tell it (docs/daemon/cp.md):
// Docker's X-Docker-Container-Path-Stat header, base64 of {"name","size","mode","mtime",
// "linkTarget"}. Here `mode` is the Unix st_mode (type and permission bits).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/base64.h"
#include "base/error.h"
#include "files/cp_rules.h"

namespace vessel::files {

inline constexpr const char* kPathStatHeader = "X-Docker-Container-Path-Stat";

struct PathStat {
  std::string name;  // the last component
  uint64_t size = 0;
  uint32_t mode = 0;
  int64_t mtime = 0;        // seconds since the epoch
  std::string link_target;  // the path a symbolic link resolved to, inside the root
  Kind kind() const { return S_ISDIR(mode) ? Kind::Directory : Kind::File; }
};

std::string encode_path_stat(const PathStat& stat);
// The header's value; bounded (at most 16 KiB), every field checked.
Result<PathStat> decode_path_stat(std::string_view header);

using vessel::base64_encode;
using vessel::base64_decode;

}  // namespace vessel::files
