// vessel-agent's tree messages (docs/vmm/agent.md#trees): `stat` of a guest path, and whole
// directory trees both ways (`tree-out`, `tree-in`) as a stream of entry messages, each regular
// file's bytes following its entry as data frames. No tar in the guest: the host turns entries
// into tar and back. Entry names are relative and checked on both sides (the guest's are hostile
// to the host): no "..", no "." or empty component, no leading "/", no NUL, at most 4096 bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/protocol/messages.h"

namespace vessel::agent {

inline constexpr uint64_t kMaxTreeFileSize = uint64_t{1} << 40;

// The answer to stat: exists false, or what the path is.
struct PathInfo {
  bool exists = false;
  uint32_t mode = 0;  // st_mode: type and permission bits
  uint64_t size = 0;
  int64_t mtime = 0;
  std::string target;  // a symbolic link's
};
Parsed<PathInfo> parse_path_info(const Json& body);
Json to_json(const PathInfo& info);

// {"op": "entry", "path": REL ("" the top itself), "mode", "size", "mtime", "uid", "gid",
// "target"}: a regular file (then `size` bytes in data frames and an empty one), a directory or
// a symbolic link (`target`, 1..4096 bytes). Other types are not sent.
struct TreeEntry {
  std::string path;
  uint32_t mode = 0;
  uint64_t size = 0;
  int64_t mtime = 0;
  uint32_t uid = 0, gid = 0;
  std::string target;
};
// A relative entry name as above ("" allowed: the top).
bool valid_entry_path(std::string_view path);
// The next message of a tree stream: an entry, or the end ({"op": "end"}: nullopt).
Parsed<std::optional<TreeEntry>> parse_tree_message(std::string_view text);
std::string to_json(const TreeEntry& entry);
std::string tree_end();

}  // namespace vessel::agent
