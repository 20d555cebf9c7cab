// What a build knows about a stage as it goes: its layers, its image config (the OCI config's
// "config" object, as Docker keeps it), its history, the ARGs it declared, its SHELL, and the
// build cache's key of everything so far (build_cache.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/rotating_log.h"
#include "daemon/images/dockerfile_words.h"

namespace vessel::daemon {
class ImageStore;
class ContainerBackend;
}  // namespace vessel::daemon

namespace vessel::daemon::build {

struct StageState {
  std::vector<std::string> layers;      // layer hexes in the store, lowest first
  std::vector<std::string> diff_ids;    // sha256:<hex> of each layer's uncompressed tar
  json::Json config = json::Json::object();  // Env, Cmd, Entrypoint, WorkingDir, User, Labels ...
  json::Json history = json::Json::array();
  dockerfile::Vars args;                // ARG name -> value (declared in this stage)
  std::vector<std::string> shell = {"/bin/sh", "-c"};
  std::string cache_key;                // sha256 hex of the chain so far
  std::string author;                   // MAINTAINER
  bool cmd_set = false;                 // CMD given in this stage (ENTRYPOINT keeps it then)
};

// The variables instructions expand: the stage's ARGs, then its ENV (ENV wins, as Docker's).
dockerfile::Vars stage_vars(const StageState& state);
// ENV as NAME=VALUE strings (config.Env), set or replaced.
void set_env(StageState& state, const std::string& name, const std::string& value);
// config.WorkingDir, "/" when unset.
std::string workdir_of(const StageState& state);

// Progress to the client: JSON objects ({"step"}, {"output"}, {"cached"} ...).
using BuildLog = std::function<void(const json::Json&)>;

// What every step needs: the store, the runtime, where to work.
struct StepEnv {
  ImageStore& images;
  ContainerBackend& containers;
  std::string cgroup_parent;  // vesseld's (RUN containers get one each below it)
  std::string work;           // this build's scratch directory (<store>/tmp/build-...)
  std::string context;        // the unpacked context
  std::string network;        // RUN's: "host" or "none"
  const BuildLog& log;
};

}  // namespace vessel::daemon::build
