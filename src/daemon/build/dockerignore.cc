#include "daemon/build/dockerignore.h"

#include <fnmatch.h>

#include "runtime/linux/sys.h"

namespace vessel::daemon::build {

namespace {

// The path cleaned lexically ("./a/../b/" -> b), as components.
std::vector<std::string> split_path(std::string_view path) {
  std::string clean = runtime::sys::normalize_in_root("/" + std::string(path));
  std::vector<std::string> out;
  for (size_t pos = 1; pos < clean.size();) {
    size_t slash = clean.find('/', pos);
    if (slash == std::string::npos) slash = clean.size();
    out.push_back(clean.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

// Does `pattern` match `path` exactly? `**` takes any number of components. Dynamic programming
// over (pattern part, path part), so that a hostile pattern of many `**` stays polynomial.
bool match_parts(const std::vector<std::string>& pattern, const std::vector<std::string>& path) {
  const size_t np = pattern.size(), ni = path.size();
  // ok[p][i]: pattern[p..] matches path[i..]
  std::vector<std::vector<char>> ok(np + 1, std::vector<char>(ni + 1, 0));
  ok[np][ni] = 1;
  for (size_t p = np; p-- > 0;) {
    for (size_t i = ni + 1; i-- > 0;) {
      if (pattern[p] == "**") ok[p][i] = ok[p + 1][i] || (i < ni && ok[p][i + 1]);
      else ok[p][i] = i < ni && ok[p + 1][i + 1] && ::fnmatch(pattern[p].c_str(), path[i].c_str(), 0) == 0;
    }
  }
  return ok[0][0];
}

}  // namespace

DockerIgnore DockerIgnore::parse(std::string_view text) {
  DockerIgnore out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    Pattern pattern;
    if (line.front() == '!') {
      pattern.exception = true;
      line.remove_prefix(1);
    }
    pattern.parts = split_path(line);
    if (pattern.parts.empty()) continue;
    out.has_exceptions_ = out.has_exceptions_ || pattern.exception;
    out.patterns_.push_back(std::move(pattern));
  }
  return out;
}

bool DockerIgnore::excluded(std::string_view path) const {
  auto parts = split_path(path);
  bool out = false;
  for (const auto& pattern : patterns_) {
    // The path itself or one of its parents (an excluded directory takes what is in it).
    bool matched = false;
    for (size_t n = parts.size(); n >= 1 && !matched; --n) {
      std::vector<std::string> prefix(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(n));
      matched = match_parts(pattern.parts, prefix);
    }
    if (matched) out = !pattern.exception;
  }
  return out;
}

}  // namespace vessel::daemon::build
