#include "cli/env_file.h"

#include <sys/stat.h>

#include <cstdlib>

#include "base/fd.h"

namespace vessel::cli {

namespace {

constexpr off_t kMaxFileBytes = 1 << 20;

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

}  // namespace

Result<std::vector<std::string>> parse_env_lines(std::string_view text, BareKey bare, std::string_view where) {
  std::vector<std::string> out;
  size_t number = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view content = trim_left(line);
    if (content.empty() || content.front() == '#') continue;
    size_t eq = content.find('=');
    std::string key(content.substr(0, eq));
    if (key.empty() || key.find_first_of(" \t") != std::string::npos || key.find('\0') != std::string::npos)
      return fail(EINVAL, "{} line {}: '{}' is not KEY=VALUE (a key without spaces)", where, number, std::string(content.substr(0, 80)));
    if (eq != std::string_view::npos) {
      out.push_back(std::string(content));
    } else if (bare == BareKey::Empty) {
      out.push_back(key + "=");
    } else if (const char* value = std::getenv(key.c_str())) {
      out.push_back(key + "=" + value);
    }
  }
  return out;
}

Result<std::vector<std::string>> read_env_file(const std::string& path, BareKey bare) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return fail_errno("{}", path);
  if (!S_ISREG(st.st_mode)) return fail(EINVAL, "{} is not a regular file", path);
  if (st.st_size > kMaxFileBytes) return fail(EFBIG, "{}: larger than {} bytes", path, kMaxFileBytes);
  auto text = TRY(read_file(path));
  return parse_env_lines(text, bare, path);
}

Result<std::vector<std::string>> read_env_files(const std::vector<std::string>& paths, BareKey bare, std::string_view flag) {
  std::vector<std::string> out;
  for (const auto& path : paths) {
    auto lines = TRY_CTX(read_env_file(path, bare), "{}", flag);
    out.insert(out.end(), lines.begin(), lines.end());
  }
  return out;
}

}  // namespace vessel::cli
