// A path named by a hostile archive (a tar entry, a hardlink target, a manifest's file name),
// split into components and checked: leading "/" and "." components are dropped, ".." and NUL
// bytes are refused. What it names is resolved only inside a ConfinedRoot.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::files {

struct EntryPath {
  std::string parent;  // "a/b"; "" for the top of the archive
  std::string name;    // the last component; "" when the path names the top itself
  std::string full() const { return parent.empty() ? name : parent + "/" + name; }
};

Result<EntryPath> parse_entry_path(std::string_view raw);

}  // namespace vessel::files
