#include "daemon/images/stored_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/json.h"
#include "daemon/images/registry_manifest.h"

namespace vessel::daemon {

namespace {

Result<StoredBlob> stored_blob(const std::string& store, const std::string& hex, std::string media_type) {
  StoredBlob b{hex, std::move(media_type), store + "/blobs/sha256/" + hex};
  struct stat st;
  if (::stat(b.path.c_str(), &st) < 0)
    return Unexpected(Error(ENOENT, fmt::format("blob sha256:{} is missing from the store", hex.substr(0, 12)))
                          .with_hint("pull or import the image again"));
  b.size = static_cast<uint64_t>(st.st_size);
  return b;
}

// A layer's media type from its first bytes: gzip, zstd, or a plain tar.
Result<std::string> layer_media_type(const std::string& path) {
  Fd fd = TRY(Fd::open(path, O_RDONLY | O_CLOEXEC));
  unsigned char magic[4] = {};
  ssize_t n = ::read(fd.get(), magic, sizeof magic);
  if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) return std::string(media::kOciLayerGzip);
  if (n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
    return std::string("application/vnd.oci.image.layer.v1.tar+zstd");
  return std::string("application/vnd.oci.image.layer.v1.tar");
}

std::string oci_manifest(const StoredBlob& config, const std::vector<StoredBlob>& layers) {
  auto descriptor = [](const StoredBlob& b) {
    return json::Json{{"mediaType", b.media_type}, {"digest", "sha256:" + b.hex}, {"size", b.size}};
  };
  json::Json m = {{"schemaVersion", 2}, {"mediaType", media::kOciManifest}, {"config", descriptor(config)},
                  {"layers", json::Json::array()}};
  for (const auto& l : layers) m["layers"].push_back(descriptor(l));
  return json::dump(m);
}

}  // namespace

Result<ImageDocuments> image_documents(const std::string& store, const StoredImage& image) {
  if (image.config_hex.empty())
    return Unexpected(Error(ENOTSUP, "this image's config was not kept in the store (imported by an older vesseld)")
                          .with_hint("import or pull it again"));
  ImageDocuments d;
  for (const auto& hex : image.layer_hexes)
    d.layers.push_back(TRY(stored_blob(store, hex, TRY(layer_media_type(store + "/blobs/sha256/" + hex)))));
  d.config = TRY(stored_blob(store, image.config_hex, std::string(media::kOciConfig)));
  if (image.manifest_hex.empty()) {
    d.manifest = oci_manifest(d.config, d.layers);
    d.media_type = media::kOciManifest;
    return d;
  }
  d.manifest = TRY(read_file(store + "/blobs/sha256/" + image.manifest_hex));
  d.media_type = image.media_type;
  // The registry's descriptors are the truth for this manifest: the config keeps its media type.
  auto parsed = TRY(parse_registry_manifest(d.manifest, d.media_type));
  d.config.media_type = parsed.config.media_type;
  for (size_t i = 0; i < d.layers.size() && i < parsed.layers.size(); ++i)
    if (!parsed.layers[i].media_type.empty()) d.layers[i].media_type = parsed.layers[i].media_type;
  return d;
}

}  // namespace vessel::daemon
