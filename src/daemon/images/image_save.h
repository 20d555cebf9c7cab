// `vessel image save`: an image of the store written as a tar that podman, Docker and skopeo
// load: docker-archive (manifest.json, the config, each layer as the uncompressed tar its diff_id
// names, decompressed on the way) or an OCI archive (oci-layout, index.json naming the image,
// blobs/sha256/ with the store's blobs as they are and the manifest; stored_image.h).
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "daemon/images/stored_image.h"

namespace vessel::daemon {

enum class SaveFormat { DockerArchive, Oci };

// "docker-archive" (the default, as podman's) or "oci" / "oci-archive".
Result<SaveFormat> parse_save_format(std::string_view text);

// `name`: what the archive calls the image (RepoTags, the OCI ref.name annotation).
Result<void> save_image(const std::string& store, const StoredImage& image, const std::string& name, SaveFormat format,
                        int out_fd);

}  // namespace vessel::daemon
