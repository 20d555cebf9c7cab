#include "daemon/images/registry_manifest.h"

#include "base/json.h"
#include "daemon/images/image_manifest.h"

namespace vessel::daemon {

namespace {

constexpr size_t kMaxManifest = 4 << 20;
constexpr uint64_t kMaxBlob = uint64_t(64) << 30;  // a layer larger than 64 GiB is not an image's
constexpr size_t kMaxLayers = 1000;
constexpr size_t kMaxIndexEntries = 1000;

bool is_index_type(std::string_view t) { return t == media::kOciIndex || t == media::kDockerList; }
bool is_manifest_type(std::string_view t) { return t == media::kOciManifest || t == media::kDockerManifest; }

// A layer vessel can unpack: a tar, plain or compressed (layer_unpack.h reads gzip and zstd).
bool is_layer_type(std::string_view t) {
  return t == "application/vnd.oci.image.layer.v1.tar" || t == media::kOciLayerGzip ||
         t == "application/vnd.oci.image.layer.v1.tar+zstd" || t == media::kDockerLayerGzip ||
         t == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
         t == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}

Result<Descriptor> parse_descriptor(const json::Json& j, const std::string& where) {
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, j.type_name());
  Descriptor d;
  d.media_type = TRY(json::opt_string(j, where, "mediaType")).value_or("");
  d.hex = TRY(parse_digest(TRY(json::get_string(j, where, "digest")), where + ".digest"));
  d.size = TRY(json::get_uint(j, where, "size"));
  if (d.size > kMaxBlob) return fail(EINVAL, "{}.size: {} bytes is more than the limit ({})", where, d.size, kMaxBlob);
  return d;
}

std::string platform_of(const json::Json& entry) {
  if (!entry.contains("platform") || !entry["platform"].is_object()) return "?";
  const auto& p = entry["platform"];
  auto s = [&](const char* k) { return p.contains(k) && p[k].is_string() ? p[k].get<std::string>() : std::string("?"); };
  return s("os") + "/" + s("architecture");
}

Result<RegistryManifest> parse_index(const json::Json& doc, std::string_view os, std::string_view arch) {
  RegistryManifest m;
  m.is_index = true;
  if (!doc.contains("manifests") || !doc["manifests"].is_array())
    return fail(EINVAL, "index: manifests: required array is missing");
  const auto& list = doc["manifests"];
  if (list.size() > kMaxIndexEntries) return fail(EINVAL, "index: {} manifests (limit {})", list.size(), kMaxIndexEntries);
  std::string want = fmt::format("{}/{}", os, arch), seen;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = fmt::format("index.manifests[{}]", i);
    auto d = TRY(parse_descriptor(list[i], where));
    std::string platform = platform_of(list[i]);
    if (platform == want) {
      if (!d.media_type.empty() && !is_manifest_type(d.media_type))
        return fail(ENOTSUP, "{}: the {} entry is a {}, not an image manifest", where, want, d.media_type);
      m.platform_manifest = d;
      return m;
    }
    if (seen.size() < 512) seen += (seen.empty() ? "" : ", ") + platform;
  }
  return Unexpected(Error(ENOENT, fmt::format("the image has no {} variant", want))
                        .with_hint(seen.empty() ? "the index lists no platform" : "it has: " + seen));
}

Result<RegistryManifest> parse_image_manifest(const json::Json& doc, std::string media_type) {
  RegistryManifest m;
  m.media_type = std::move(media_type);
  if (!doc.contains("config")) return fail(EINVAL, "manifest.config: required field is missing");
  m.config = TRY(parse_descriptor(doc["config"], "manifest.config"));
  if (!m.config.media_type.empty() && m.config.media_type != media::kOciConfig && m.config.media_type != media::kDockerConfig)
    return Unexpected(Error(ENOTSUP, fmt::format("manifest.config is a {}: not a container image", m.config.media_type))
                          .with_hint("vessel pulls container images (OCI or Docker), not other artifacts"));
  if (!doc.contains("layers") || !doc["layers"].is_array()) return fail(EINVAL, "manifest.layers: required array is missing");
  const auto& layers = doc["layers"];
  if (layers.size() > kMaxLayers) return fail(EINVAL, "manifest.layers: {} layers (limit {})", layers.size(), kMaxLayers);
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string where = fmt::format("manifest.layers[{}]", i);
    auto d = TRY(parse_descriptor(layers[i], where));
    if (!d.media_type.empty() && !is_layer_type(d.media_type))
      return fail(ENOTSUP, "{}: unsupported layer media type {}", where, d.media_type);
    m.layers.push_back(std::move(d));
  }
  return m;
}

}  // namespace

std::string manifest_accept_header() {
  return fmt::format("Accept: {}, {}, {}, {}", media::kOciIndex, media::kOciManifest, media::kDockerList,
                     media::kDockerManifest);
}

Result<RegistryManifest> parse_registry_manifest(std::string_view body, std::string_view content_type,
                                                 std::string_view os, std::string_view architecture) {
  if (body.size() > kMaxManifest) return fail(E2BIG, "the manifest is {} bytes (limit {})", body.size(), kMaxManifest);
  auto doc = TRY_CTX(json::parse(body, kMaxManifest, 32), "manifest");
  if (!doc.is_object()) return fail(EINVAL, "manifest: expected an object, got {}", doc.type_name());
  std::string type = TRY(json::opt_string(doc, "manifest", "mediaType")).value_or("");
  if (type.empty()) type = std::string(content_type.substr(0, content_type.find(';')));
  if (type.empty()) {
    // OCI allows omitting mediaType: an index has "manifests", an image manifest "config".
    if (doc.contains("manifests")) type = media::kOciIndex;
    else if (doc.contains("config")) type = media::kOciManifest;
  }
  if (is_index_type(type)) return parse_index(doc, os, architecture);
  if (is_manifest_type(type)) return parse_image_manifest(doc, type);
  if (doc.contains("schemaVersion") && doc["schemaVersion"] == 1)
    return Unexpected(Error(ENOTSUP, "the registry sent a Docker schema 1 manifest (deprecated)")
                          .with_hint("push the image again with a current tool (schema 2 or OCI)"));
  return fail(ENOTSUP, "unsupported manifest media type '{}'", type.substr(0, 200));
}

}  // namespace vessel::daemon
