// Docker's mount flags, turned into the spec's mounts (docs/daemon/volumes.md), each a JSON object
// {"type": "bind"|"volume"|"tmpfs", "source", "target", "read_only", "tmpfs_size", "tmpfs_mode"}
// that vesseld validates again. Relative bind sources ("./data", "..") are made absolute here, in
// the CLI's working directory.
#pragma once

#include <string_view>

#include "base/error.h"
#include "base/json.h"

namespace vessel::cli {

// -v, --volume: HOST-PATH:TARGET[:OPTIONS] (a bind) or NAME:TARGET[:OPTIONS] (a named volume);
// OPTIONS is a comma list of ro, rw, z, Z (SELinux relabelling: nothing to do without SELinux).
Result<json::Json> parse_volume_flag(std::string_view text);
// --mount type=bind|volume|tmpfs,source=...,target=...[,readonly][,tmpfs-size=64m][,tmpfs-mode=1770]
// (src, destination, dst and ro are Docker's other spellings).
Result<json::Json> parse_mount_flag(std::string_view text);
// --tmpfs TARGET[:size=64m,mode=1777,ro]
Result<json::Json> parse_tmpfs_flag(std::string_view text);

}  // namespace vessel::cli
