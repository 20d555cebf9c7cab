#include "daemon/images/image_manifest.h"
#include "daemon/images/image_healthcheck.h"

#include "base/json.h"

namespace vessel::daemon {

namespace {

// Image documents are small; a larger one is hostile or broken.
constexpr size_t kMaxDocument = 4 << 20;

std::string item(std::string_view where, size_t i) { return fmt::format("{}[{}]", where, i); }
std::string field(std::string_view where, std::string_view key) {
  return fmt::format("{}.{}", where, key);
}

Result<json::Json> parse_document(std::string_view text, std::string_view name) {
  return TRY_CTX(json::parse(text, kMaxDocument, 32), "{}", name);
}

// obj[key] when present and not null; an error when it is there but not of the wanted kind.
Result<const json::Json*> optional(const json::Json& obj, std::string_view where, const char* key,
                                   json::Json::value_t kind) {
  if (!obj.is_object())
    return fail(EINVAL, "{}: expected an object, got {}", where, obj.type_name());
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  if (it->type() != kind)
    return fail(EINVAL, "{}: expected {}, got {}", field(where, key), json::Json(kind).type_name(),
                it->type_name());
  return &*it;
}

Result<const json::Json*> required(const json::Json& obj, std::string_view where, const char* key,
                                   json::Json::value_t kind) {
  const json::Json* j = TRY(optional(obj, where, key, kind));
  if (!j) return fail(EINVAL, "{}: required field is missing", field(where, key));
  return j;
}

Result<std::vector<std::string>> strings(const json::Json& array, std::string_view where) {
  std::vector<std::string> out;
  for (size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_string())
      return fail(EINVAL, "{}: expected a string, got {}", item(where, i), array[i].type_name());
    out.push_back(array[i].get<std::string>());
  }
  return out;
}

Result<std::vector<std::string>> optional_strings(const json::Json& obj, std::string_view where,
                                                  const char* key) {
  const json::Json* j = TRY(optional(obj, where, key, json::Json::value_t::array));
  if (!j) return std::vector<std::string>{};
  return strings(*j, field(where, key));
}

// config.Volumes, {"/data": {}, ...}: absolute paths without "..", sorted (a JSON object's order).
Result<std::vector<std::string>> volume_paths(const json::Json& config, std::string_view where) {
  const json::Json* volumes = TRY(optional(config, where, "Volumes", json::Json::value_t::object));
  std::vector<std::string> out;
  if (!volumes) return out;
  for (const auto& [path, ignored] : volumes->items()) {
    bool dotdot = ("/" + path + "/").find("/../") != std::string::npos;
    if (path.empty() || path[0] != '/' || dotdot || path.find('\0') != std::string::npos)
      return fail(EINVAL, "{}: \"{}\" is not an absolute path without \"..\"", field(where, "Volumes"), path);
    out.push_back(path);
  }
  return out;
}

// {"digest": "sha256:..."} -> hex.
Result<std::string> descriptor_digest(const json::Json& descriptor, std::string_view where) {
  auto digest = TRY(json::get_string(descriptor, where, "digest"));
  return parse_digest(digest, field(where, "digest"));
}

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

Result<std::string> parse_digest(std::string_view digest, std::string_view where) {
  if (digest.substr(0, 7) != "sha256:")
    return fail(EINVAL, "{}: unsupported digest algorithm (only sha256)", where);
  auto hex = digest.substr(7);
  if (hex.size() != 64 || !is_hex(hex))
    return fail(EINVAL, "{}: not a sha256 digest (64 lowercase hex digits)", where);
  return std::string(hex);
}

Result<DockerManifest> parse_docker_manifest(std::string_view text) {
  auto doc = TRY(parse_document(text, "manifest.json"));
  if (!doc.is_array())
    return fail(EINVAL, "manifest.json: expected an array of images, got {}", doc.type_name());
  if (doc.empty()) return fail(EINVAL, "manifest.json lists no image");
  const std::string where = "manifest.json[0]";
  DockerManifest m;
  m.config = TRY(json::get_string(doc[0], where, "Config"));
  const json::Json* layers = TRY(required(doc[0], where, "Layers", json::Json::value_t::array));
  m.layers = TRY(strings(*layers, field(where, "Layers")));
  auto tags = TRY(optional_strings(doc[0], where, "RepoTags"));  // docker save writes null when untagged
  if (!tags.empty()) m.repo_tag = tags.front();
  return m;
}

Result<OciIndex> parse_oci_index(std::string_view text) {
  auto doc = TRY(parse_document(text, "index.json"));
  const json::Json* manifests =
      TRY(required(doc, "index.json", "manifests", json::Json::value_t::array));
  if (manifests->empty()) return fail(EINVAL, "index.json lists no manifests");
  OciIndex index;
  for (size_t i = 0; i < manifests->size(); ++i) {
    std::string where = item("index.json.manifests", i);
    auto media = TRY(json::opt_string((*manifests)[i], where, "mediaType"));
    if (media && media->find("image.index") != std::string::npos)
      return fail(ENOTSUP, "{}: an index of indexes is not supported", where);
    index.manifests.push_back(TRY(descriptor_digest((*manifests)[i], where)));
  }
  const json::Json& first = (*manifests)[0];
  if (first.contains("annotations") && first["annotations"].is_object())
    index.ref_name = TRY(json::opt_string(first["annotations"], "index.json.manifests[0].annotations",
                                          "org.opencontainers.image.ref.name")).value_or("");
  return index;
  return index;
}

Result<OciManifest> parse_oci_manifest(std::string_view text) {
  auto doc = TRY(parse_document(text, "manifest"));
  const json::Json* config = TRY(required(doc, "manifest", "config", json::Json::value_t::object));
  const json::Json* layers = TRY(required(doc, "manifest", "layers", json::Json::value_t::array));
  OciManifest m;
  m.config = TRY(descriptor_digest(*config, "manifest.config"));
  for (size_t i = 0; i < layers->size(); ++i)
    m.layers.push_back(TRY(descriptor_digest((*layers)[i], item("manifest.layers", i))));
  return m;
}

Result<ImageConfig> parse_image_config(std::string_view text) {
  const std::string where = "image config";
  auto doc = TRY(parse_document(text, where));
  if (!doc.is_object())
    return fail(EINVAL, "{}: expected an object, got {}", where, doc.type_name());
  ImageConfig out;
  if (const json::Json* c = TRY(optional(doc, where, "config", json::Json::value_t::object))) {
    std::string at = field(where, "config");
    out.entrypoint = TRY(optional_strings(*c, at, "Entrypoint"));
    out.cmd = TRY(optional_strings(*c, at, "Cmd"));
    out.env = TRY(optional_strings(*c, at, "Env"));
    out.workdir = TRY(json::opt_string(*c, at, "WorkingDir")).value_or("");
    out.user = TRY(json::opt_string(*c, at, "User")).value_or("");
    if (c->contains("Healthcheck") && !(*c)["Healthcheck"].is_null())
      out.healthcheck = TRY(parse_image_healthcheck((*c)["Healthcheck"], field(at, "Healthcheck")));
    out.volumes = TRY(volume_paths(*c, at));
  }
  if (const json::Json* rootfs = TRY(optional(doc, where, "rootfs", json::Json::value_t::object))) {
    std::string at = field(where, "rootfs");
    auto ids = TRY(optional_strings(*rootfs, at, "diff_ids"));
    for (size_t i = 0; i < ids.size(); ++i)
      out.diff_ids.push_back(TRY(parse_digest(ids[i], item(field(at, "diff_ids"), i))));
  }
  return out;
}

}  // namespace vessel::daemon
