// What a registry answers for /v2/NAME/manifests/REF: an image manifest (OCI, or Docker v2
// schema 2) or an index (OCI image index, Docker manifest list) whose linux/amd64 entry is the
// image. The document comes from the network: typed parsing, every digest checked, sizes bounded,
// EINVAL naming the field for what is malformed, ENOTSUP for what vessel does not pull (schema 1,
// non-image artifacts, encrypted layers). Fuzzed: tests/fuzz/registry.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace vessel::daemon {

namespace media {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
}  // namespace media

// The Accept header of a manifest request: every kind parse_registry_manifest understands.
std::string manifest_accept_header();

struct Descriptor {
  std::string media_type;
  std::string hex;  // sha256
  uint64_t size = 0;
};

struct RegistryManifest {
  bool is_index = false;
  // An index: the chosen platform's manifest (digest to fetch next).
  Descriptor platform_manifest;
  // An image manifest: its config and layers, lowest first.
  Descriptor config;
  std::vector<Descriptor> layers;
  std::string media_type;  // the document's
};

// `content_type`: the answer's Content-Type (the body's mediaType wins when both are there).
// Indexes are resolved to `os`/`architecture`.
Result<RegistryManifest> parse_registry_manifest(std::string_view body, std::string_view content_type,
                                                 std::string_view os = "linux", std::string_view architecture = "amd64");

}  // namespace vessel::daemon
