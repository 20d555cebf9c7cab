#include "runtime/spec/systemd_path.h"

#include <cctype>

#include "runtime/spec/spec.h"

namespace vessel::runtime {

namespace {

constexpr size_t kUnitNameMax = 255;  // systemd's UNIT_NAME_MAX less the terminating NUL

// The characters systemd allows in a unit name besides letters and digits (no '@': scopes and
// slices are not templates).
bool unit_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' || c == '\\'; }

bool all_unit_chars(std::string_view s) {
  for (char c : s)
    if (!unit_char(c)) return false;
  return true;
}

// systemd's rule for slice names: dash-separated parents, so no leading, trailing or double dash
// ("-.slice", the root slice, aside).
bool valid_slice(std::string_view slice) {
  constexpr std::string_view suffix = ".slice";
  if (slice.size() <= suffix.size() || slice.size() > kUnitNameMax || slice.substr(slice.size() - suffix.size()) != suffix)
    return false;
  if (slice == "-.slice") return true;
  std::string_view stem = slice.substr(0, slice.size() - suffix.size());
  if (!all_unit_chars(stem) || stem.front() == '-' || stem.back() == '-') return false;
  return stem.find("--") == std::string_view::npos;
}

Result<SystemdCgroupsPath> checked(std::string slice, std::string unit, std::string_view what) {
  if (!valid_slice(slice))
    return hinted(fail(EINVAL, "{}: \"{}\" is not a systemd slice name", what, slice),
                  "a slice is NAME.slice, its parents joined by dashes: machine.slice, machine-pods.slice");
  if (unit.size() > kUnitNameMax || !all_unit_chars(unit) || unit.front() == '.' || unit.front() == '-')
    return hinted(fail(EINVAL, "{}: \"{}\" is not a valid systemd unit name", what, unit),
                  "use letters, digits, '_', '.' and '-' in the prefix and name");
  return SystemdCgroupsPath{std::move(slice), std::move(unit)};
}

}  // namespace

bool looks_like_systemd_path(std::string_view path) {
  return path.find(':') != std::string_view::npos && path.find('/') == std::string_view::npos;
}

Result<SystemdCgroupsPath> parse_systemd_cgroups_path(std::string_view path) {
  constexpr std::string_view what = "linux.cgroupsPath";
  size_t a = path.find(':');
  size_t b = a == std::string_view::npos ? a : path.find(':', a + 1);
  if (b == std::string_view::npos || path.find(':', b + 1) != std::string_view::npos)
    return hinted(fail(EINVAL, "{}: \"{}\" is not slice:prefix:name", what, path),
                  "the systemd cgroup driver takes \"slice:prefix:name\", e.g. machine.slice:libpod:ID");
  std::string_view slice = path.substr(0, a), prefix = path.substr(a + 1, b - a - 1), name = path.substr(b + 1);
  if (name.empty()) return fail(EINVAL, "{}: \"{}\" has an empty name", what, path);
  if (name.size() > 6 && name.substr(name.size() - 6) == ".slice")
    return hinted(fail(ENOTSUP, "{}: \"{}\": a slice as the container's own unit is not supported", what, path),
                  "name a scope: slice:prefix:name without .slice at the end");
  std::string unit = prefix.empty() ? std::string(name) : std::string(prefix) + "-" + std::string(name);
  return checked(slice.empty() ? std::string("system.slice") : std::string(slice), unit + ".scope", what);
}

Result<SystemdCgroupsPath> default_systemd_cgroups_path(std::string_view container_id) {
  return checked("system.slice", "vessel-runtime-" + std::string(container_id) + ".scope", "container id");
}

std::string expand_slice(std::string_view slice) {
  constexpr std::string_view suffix = ".slice";
  if (slice == "-.slice" || slice.size() <= suffix.size()) return {};
  std::string_view stem = slice.substr(0, slice.size() - suffix.size());
  std::string out;
  for (size_t dash = stem.find('-'); dash != std::string_view::npos; dash = stem.find('-', dash + 1))
    out += "/" + std::string(stem.substr(0, dash)) + std::string(suffix);
  return out + "/" + std::string(slice);
}

}  // namespace vessel::runtime
