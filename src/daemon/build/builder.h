// vessel build (docs/daemon/build.md): a Dockerfile and its context made into an image of the
// store. Stages run in order up to the target; each instruction that changes files is a step on
// an overlay of the stage's layers whose upper directory becomes a layer (build_layer.h), looked
// up first in the build cache (build_cache.h); the others change the image config
// (build_config.h). The image is named only once every step succeeded: a failed build leaves no
// image, only complete layers and cache entries, and its scratch directory is removed.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/json.h"
#include "daemon/build/build_state.h"

namespace vessel::daemon::build {

struct BuildOptions {
  std::string tag;                                // -t: the image's name
  std::string dockerfile = "Dockerfile";          // -f: its path in the context
  std::map<std::string, std::string> build_args;  // --build-arg
  bool no_cache = false;
  std::string target;                             // --target: a stage's name or index
  std::string network = "host";                   // RUN's network: "host" or "none"
};

struct BuildServices {
  ImageStore& images;
  ContainerBackend& containers;
  std::string cgroup_parent;
};

// At vesseld's start: what builds cut short by a crash left — their RUN containers (the runtime's
// state under `runtime_root`, named build+...), mounts and scratch directories — is removed.
void remove_stale_builds(const BuildServices& services, const std::string& runtime_root);

// `context_tar`: the context as the client sent it. Returns the image as `image inspect` shows it.
Result<json::Json> build_image(const BuildServices& services, std::string_view context_tar, const BuildOptions& options,
                               const BuildLog& log);

}  // namespace vessel::daemon::build
