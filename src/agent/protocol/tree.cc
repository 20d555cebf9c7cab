#include "agent/protocol/tree.h"

#include <sys/stat.h>

#include "agent/protocol/fields.h"

namespace vessel::agent {

namespace {

bool supported_type(uint32_t mode) { return S_ISREG(mode) || S_ISDIR(mode) || S_ISLNK(mode); }

}  // namespace

bool valid_entry_path(std::string_view path) {
  if (path.empty()) return true;
  if (path.size() > kMaxPath || path.find('\0') != std::string_view::npos || path.front() == '/')
    return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    auto part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

Parsed<PathInfo> parse_path_info(const Json& body) {
  PathInfo info;
  if (!body.contains("exists") || !body["exists"].is_boolean())
    return bad("stat: exists: expected true or false");
  info.exists = body["exists"].get<bool>();
  if (!info.exists) return info;
  auto mode = uint_field(body, "mode", 0177777);
  auto size = uint_field(body, "size", kMaxTreeFileSize);
  auto mtime = int_field(body, "mtime");
  if (!mode) return bad("stat: " + mode.error());
  if (!size) return bad("stat: " + size.error());
  if (!mtime) return bad("stat: " + mtime.error());
  info.mode = uint32_t(*mode);
  info.size = *size;
  info.mtime = *mtime;
  if (body.contains("target")) {
    if (!body["target"].is_string() ||
        body["target"].get_ref<const std::string&>().size() > kMaxPath)
      return bad("stat: target: expected a string of at most 4096 bytes");
    info.target = body["target"].get<std::string>();
  }
  return info;
}

Json to_json(const PathInfo& info) {
  if (!info.exists) return Json{{"exists", false}};
  return Json{{"exists", true},
              {"mode", info.mode},
              {"size", info.size},
              {"mtime", info.mtime},
              {"target", info.target}};
}

Parsed<std::optional<TreeEntry>> parse_tree_message(std::string_view text) {
  auto parsed = parse_object(text);
  if (!parsed) return tl::unexpected(parsed.error());
  const Json& j = *parsed;
  if (!j.contains("op") || !j["op"].is_string()) return bad("op: expected a string");
  if (j["op"] == "end") return std::optional<TreeEntry>();
  if (j["op"] != "entry") return bad("op: expected entry or end");
  TreeEntry e;
  if (!j.contains("path") || !j["path"].is_string()) return bad("entry: path: expected a string");
  e.path = j["path"].get<std::string>();
  if (!valid_entry_path(e.path))
    return bad("entry: path: not a relative name without . or .. components");
  auto mode = uint_field(j, "mode", 0177777);
  auto size = uint_field(j, "size", kMaxTreeFileSize);
  auto mtime = int_field(j, "mtime");
  auto uid = uint_field(j, "uid", 0xfffffffe);
  auto gid = uint_field(j, "gid", 0xfffffffe);
  for (const auto* err : {mode ? nullptr : &mode.error(), size ? nullptr : &size.error(),
                          uid ? nullptr : &uid.error(), gid ? nullptr : &gid.error()})
    if (err) return bad("entry: " + *err);
  if (!mtime) return bad("entry: " + mtime.error());
  e.mode = uint32_t(*mode);
  if (!supported_type(e.mode))
    return bad("entry: mode: only files, directories and symbolic links");
  e.size = S_ISREG(e.mode) ? *size : 0;
  e.mtime = *mtime;
  e.uid = uint32_t(*uid);
  e.gid = uint32_t(*gid);
  if (S_ISLNK(e.mode)) {
    if (!j.contains("target") || !j["target"].is_string())
      return bad("entry: target: expected a string");
    e.target = j["target"].get<std::string>();
    if (e.target.empty() || e.target.size() > kMaxPath || e.target.find('\0') != std::string::npos)
      return bad("entry: target: expected 1 to 4096 bytes without NUL");
  }
  return std::optional(std::move(e));
}

std::string to_json(const TreeEntry& e) {
  Json j{{"op", "entry"},    {"path", e.path}, {"mode", e.mode}, {"size", e.size},
         {"mtime", e.mtime}, {"uid", e.uid},   {"gid", e.gid}};
  if (S_ISLNK(e.mode)) j["target"] = e.target;
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string tree_end() { return R"({"op":"end"})"; }

}  // namespace vessel::agent
