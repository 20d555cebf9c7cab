#include "files/entry_path.h"

#include <vector>

namespace vessel::files {

namespace {

std::vector<std::string_view> split(std::string_view p) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    auto part = p.substr(start, end - start);
    if (!part.empty() && part != ".") parts.push_back(part);
    start = end + 1;
  }
  return parts;
}

}  // namespace

Result<EntryPath> parse_entry_path(std::string_view raw) {
  if (raw.find('\0') != std::string_view::npos)
    return fail(EINVAL, "an archive entry name holds a NUL byte");
  if (raw.size() > 4096)
    return fail(ENAMETOOLONG, "an archive entry name is longer than 4096 bytes");
  auto parts = split(raw);
  EntryPath out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "..") return fail(EINVAL, "archive entry '{}' escapes its directory", raw);
    if (i + 1 == parts.size()) {
      out.name = parts[i];
    } else {
      if (!out.parent.empty()) out.parent += '/';
      out.parent += parts[i];
    }
  }
  return out;
}

}  // namespace vessel::files
