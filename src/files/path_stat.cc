#include "files/path_stat.h"

#include "base/json.h"

namespace vessel::files {

namespace {

constexpr size_t kMaxHeader = 16 * 1024;

}  // namespace

std::string encode_path_stat(const PathStat& s) {
  json::Json j = {{"name", s.name},
                  {"size", s.size},
                  {"mode", s.mode},
                  {"mtime", s.mtime},
                  {"linkTarget", s.link_target}};
  return base64_encode(json::dump(j));
}

Result<PathStat> decode_path_stat(std::string_view header) {
  if (header.size() > kMaxHeader)
    return fail(EINVAL, "a path stat longer than {} bytes", kMaxHeader);
  auto text = TRY_CTX(base64_decode(header), "path stat");
  auto j = TRY_CTX(json::parse(text, kMaxHeader, 2), "path stat");
  if (!j.is_object()) return fail(EINVAL, "path stat: not an object");
  PathStat s;
  s.name = TRY(json::get_string(j, "path stat", "name"));
  s.size = TRY(json::get_uint(j, "path stat", "size"));
  uint64_t mode = TRY(json::get_uint(j, "path stat", "mode"));
  if (mode > 0177777) return fail(EINVAL, "path stat: mode {:o} out of range", mode);
  s.mode = static_cast<uint32_t>(mode);
  s.mtime = TRY(json::get_int(j, "path stat", "mtime"));
  if (j.contains("linkTarget")) s.link_target = TRY(json::get_string(j, "path stat", "linkTarget"));
  return s;
}

}  // namespace vessel::files
