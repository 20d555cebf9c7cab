#include "cli/disk_flags.h"

#include <filesystem>

#include "base/key_values.h"
#include "cli/format.h"
#include "cli/local_path.h"

namespace vessel::cli {

namespace {

// "k=v,k2,k3=v3" when the first item names a known key; nullopt means a plain path.
bool is_key_list(const std::string& text) {
  for (const char* key : {"path=", "size=", "format=", "ro", "rw"}) {
    std::string k = key;
    if (text.compare(0, k.size(), k) == 0 && (k.back() == '=' || text.size() == k.size() || text[k.size()] == ','))
      return true;
  }
  return false;
}

struct DiskKeys {
  std::string path, format, size;
  bool read_only = false;
};

Result<DiskKeys> parse_keys(const std::string& text, bool allow_size) {
  DiskKeys k;
  for (const auto& [item, key, value, has_value] : split_key_values(text)) {
    if (key == "ro" || key == "rw") {
      if (has_value) return fail(EINVAL, "--disk {}: '{}' takes no value", text, key);
      k.read_only = key == "ro";
    } else if (key == "path" && has_value && !value.empty()) {
      k.path = value;
    } else if (key == "format" && (value == "raw" || value == "qcow2")) {
      k.format = value;
    } else if (key == "size" && allow_size && !value.empty()) {
      k.size = value;
    } else {
      return Unexpected(Error(EINVAL, fmt::format("--disk {}: cannot use '{}'", text, item))
                            .with_hint(allow_size ? "use path=FILE[,format=raw|qcow2][,ro] or size=SIZE (e.g. size=1G)"
                                                  : "use PATH or path=FILE[,format=raw|qcow2]"));
    }
  }
  return k;
}

}  // namespace

Result<json::Json> parse_instance_disk(const std::string& text) {
  if (!is_key_list(text)) {
    std::string path = text;
    bool ro = path.size() > 3 && path.compare(path.size() - 3, 3, ":ro") == 0;
    if (ro) path.resize(path.size() - 3);
    if (path.empty()) return fail(EINVAL, "--disk: empty path");
    return json::Json{{"path", absolute_path(path)}, {"read_only", ro}};
  }
  auto k = TRY(parse_keys(text, true));
  if (!k.size.empty()) {
    if (!k.path.empty() || !k.format.empty())
      return fail(EINVAL, "--disk {}: size= makes a new disk; it takes no path= or format=", text);
    if (k.read_only) return fail(EINVAL, "--disk {}: a new empty disk cannot be read-only", text);
    auto mib = TRY_CTX(parse_memory_mib(k.size), "--disk {}", text);
    return json::Json{{"size_mib", mib}};
  }
  if (k.path.empty()) return fail(EINVAL, "--disk {}: needs path=FILE or size=SIZE", text);
  json::Json j = {{"path", absolute_path(k.path)}, {"read_only", k.read_only}};
  if (!k.format.empty()) j["format"] = k.format;
  return j;
}

Result<json::Json> parse_image_disk(const std::string& text) {
  if (!is_key_list(text)) return json::Json{{"path", absolute_path(text)}};
  auto k = TRY(parse_keys(text, false));
  if (k.path.empty()) return fail(EINVAL, "--disk {}: needs path=FILE", text);
  if (k.read_only) return fail(EINVAL, "--disk {}: image disks are always read-only bases; drop 'ro'", text);
  json::Json j = {{"path", absolute_path(k.path)}};
  if (!k.format.empty()) j["format"] = k.format;
  return j;
}

}  // namespace vessel::cli
