// The JSON documents of an image archive, parsed into typed structs: docker-archive's
// manifest.json, OCI's index.json and image manifest, and the image config both formats share.
// Every field read is type-checked; a document of the wrong shape is an EINVAL error that names
// the field ("manifest.json[0].Config: expected a string, got number"), never an exception.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "daemon/spec/restart_spec.h"

namespace vessel::daemon {

// docker-archive manifest.json: the first image of the array.
struct DockerManifest {
  std::string config;               // path of the config JSON inside the archive
  std::vector<std::string> layers;  // paths of the layer tars, lowest first
  std::string repo_tag;             // RepoTags[0] ("busybox:latest"), empty when untagged
};

// OCI index.json: the digests (hex) of the manifests it lists.
struct OciIndex {
  std::vector<std::string> manifests;
  std::string ref_name;  // the first manifest's org.opencontainers.image.ref.name annotation, if any
};

// OCI image manifest: config and layer digests (hex), lowest layer first.
struct OciManifest {
  std::string config;
  std::vector<std::string> layers;
};

// The image config (OCI or docker): what a container runs and the layers' diff_ids (hex).
struct ImageConfig {
  std::vector<std::string> entrypoint, cmd, env;
  std::string workdir;
  std::string user;  // USER: uid[:gid] or name[:group]
  std::vector<std::string> diff_ids;
  std::optional<HealthcheckSpec> healthcheck;  // config.Healthcheck (image_healthcheck.h)
  std::vector<std::string> volumes;  // config.Volumes' paths (VOLUME): anonymous volumes at create
};

Result<DockerManifest> parse_docker_manifest(std::string_view text);
Result<OciIndex> parse_oci_index(std::string_view text);
Result<OciManifest> parse_oci_manifest(std::string_view text);
Result<ImageConfig> parse_image_config(std::string_view text);

// "sha256:<64 lowercase hex digits>" -> the hex digits; `where` names the field for errors.
Result<std::string> parse_digest(std::string_view digest, std::string_view where);

}  // namespace vessel::daemon
