#include "cli/mount_flags.h"

#include <string>
#include <vector>

#include "base/size.h"
#include "cli/local_path.h"

namespace vessel::cli {

namespace {

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t end = text.find(sep, start);
    out.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

// A host path as Docker's CLI tells one from a volume's name: it starts with '/' or '.'.
bool is_host_path(std::string_view source) { return !source.empty() && (source[0] == '/' || source[0] == '.'); }

json::Json source_mount(const std::string& source, const std::string& target) {
  if (is_host_path(source)) return {{"type", "bind"}, {"source", absolute_path(source)}, {"target", target}};
  return {{"type", "volume"}, {"source", source}, {"target", target}};
}

Result<uint64_t> tmpfs_size(std::string_view text, std::string_view flag) {
  SizeSyntax syntax;
  syntax.long_units = true;
  auto bytes = scan_size(text, syntax);
  if (!bytes) return fail(EINVAL, "{}: size '{}' is not a size (64m, 1g, 65536)", flag, text);
  return *bytes;
}

Result<uint32_t> tmpfs_mode(std::string_view text, std::string_view flag) {
  if (text.empty() || text.size() > 4 || text.find_first_not_of("01234567") != std::string_view::npos)
    return fail(EINVAL, "{}: mode '{}' is not an octal file mode (1777, 700)", flag, text);
  return static_cast<uint32_t>(std::stoul(std::string(text), nullptr, 8));
}

Result<bool> truth(std::string_view value, std::string_view flag) {
  if (value.empty() || value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  return fail(EINVAL, "{}: '{}' is neither true nor false", flag, value);
}

}  // namespace

Result<json::Json> parse_volume_flag(std::string_view text) {
  auto parts = split(text, ':');
  if (parts.size() == 1 && !parts[0].empty())  // an anonymous volume (-v /data): vesseld names it
    return json::Json{{"type", "volume"}, {"target", parts[0]}};
  if (parts.size() > 3 || parts[0].empty() || parts[1].empty())
    return Unexpected(Error(EINVAL, fmt::format("-v {}: expected SOURCE:TARGET[:OPTIONS]", text))
                          .with_hint("e.g. -v \"$PWD\":/work, -v data:/var/lib/data:ro"));
  json::Json m = source_mount(parts[0], parts[1]);
  if (parts.size() == 3) {
    for (const auto& option : split(parts[2], ',')) {
      if (option == "ro") m["read_only"] = true;
      else if (option == "rw") m["read_only"] = false;
      else if (option == "z" || option == "Z") continue;
      else return fail(EINVAL, "-v {}: option '{}' is not ro, rw, z or Z", text, option);
    }
  }
  return m;
}

Result<json::Json> parse_mount_flag(std::string_view text) {
  std::string type, source, target;
  json::Json m = json::Json::object();
  for (const auto& item : split(text, ',')) {
    auto eq = item.find('=');
    std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (key == "type") type = value;
    else if (key == "source" || key == "src") source = value;
    else if (key == "target" || key == "destination" || key == "dst") target = value;
    else if (key == "readonly" || key == "ro") m["read_only"] = TRY(truth(value, "--mount " + key));
    else if (key == "tmpfs-size") m["tmpfs_size"] = TRY(tmpfs_size(value, "--mount tmpfs-size"));
    else if (key == "tmpfs-mode") m["tmpfs_mode"] = TRY(tmpfs_mode(value, "--mount tmpfs-mode"));
    else return fail(EINVAL, "--mount {}: unknown key '{}' (type, source, target, readonly, tmpfs-size, tmpfs-mode)", text, key);
  }
  if (target.empty()) return fail(EINVAL, "--mount {}: target= is missing", text);
  if (type.empty()) type = "volume";  // Docker's default
  if (type != "bind" && type != "volume" && type != "tmpfs")
    return fail(EINVAL, "--mount {}: type '{}' is not bind, volume or tmpfs", text, type);
  m["type"] = type;
  m["target"] = target;
  if (type == "tmpfs") {
    if (!source.empty()) return fail(EINVAL, "--mount {}: a tmpfs has no source", text);
  } else {
    if (source.empty() && type == "bind") return fail(EINVAL, "--mount {}: source= is missing", text);
    if (!source.empty()) m["source"] = type == "bind" ? absolute_path(source) : source;  // no volume name: anonymous
  }
  return m;
}

Result<json::Json> parse_tmpfs_flag(std::string_view text) {
  auto colon = text.find(':');
  json::Json m = {{"type", "tmpfs"}, {"target", std::string(text.substr(0, colon))}};
  if (colon == std::string_view::npos) return m;
  for (const auto& option : split(text.substr(colon + 1), ',')) {
    auto eq = option.find('=');
    std::string key = option.substr(0, eq), value = eq == std::string::npos ? "" : option.substr(eq + 1);
    if (key == "size") m["tmpfs_size"] = TRY(tmpfs_size(value, "--tmpfs size"));
    else if (key == "mode") m["tmpfs_mode"] = TRY(tmpfs_mode(value, "--tmpfs mode"));
    else if (key == "ro") m["read_only"] = true;
    else if (key == "rw") m["read_only"] = false;
    else if (key == "nosuid" || key == "nodev") continue;  // a tmpfs here is always nosuid,nodev
    else return fail(EINVAL, "--tmpfs {}: option '{}' is not size, mode, ro or rw", text, key);
  }
  return m;
}

}  // namespace vessel::cli
