// The names of --cluster-storage backup archives in the directory the nodes share
// (docs/cluster.md#storage): DIR/NAME.gGENERATION.tar, written by ClusterBackups (cluster_backups.h).
// Pure; in vessel_daemon so that its unit test links it alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vessel::daemon {

// The generation of `file` (a file name) when it is one of `instance`'s backups: GENERATION a
// positive decimal int64 as written (no sign, no leading zero); none else.
std::optional<int64_t> cluster_backup_generation(std::string_view file, std::string_view instance);
// The same for a backup being written (.NAME.gGENERATION.tar.partial, write_backup_file's), which
// a node killed mid-write leaves behind.
std::optional<int64_t> cluster_partial_backup_generation(std::string_view file, std::string_view instance);

}  // namespace vessel::daemon
