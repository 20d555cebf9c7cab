// The instructions that change only the image config (Docker records them in the config and
// the history, with no layer): ENV, ARG, LABEL, EXPOSE, USER, CMD, ENTRYPOINT, SHELL, VOLUME,
// HEALTHCHECK, STOPSIGNAL, MAINTAINER, ONBUILD; WORKDIR's path (its directory is made by the
// builder). And the OCI config document of a finished stage.
#pragma once

#include <map>
#include <set>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "daemon/build/build_state.h"
#include "daemon/images/dockerfile.h"

namespace vessel::daemon::build {

struct ArgSources {
  const std::map<std::string, std::string>& build_args;  // --build-arg
  const dockerfile::Vars& global_args;                    // ARGs before the first FROM
  std::set<std::string>& used;                            // --build-args some ARG declared
};

// Applies `in` to the state when it is one of these instructions: true; false for the others.
// Errors are the instruction's (the caller adds its line and column).
Result<bool> apply_config_instruction(const dockerfile::Instruction& in, StageState& state, char escape,
                                      ArgSources& args);

// The text the history and the cache key record for an instruction.
std::string instruction_text(const dockerfile::Instruction& in);

// The image config document (config, rootfs.diff_ids, history, created) of a finished stage.
std::string image_config_document(const StageState& state);

}  // namespace vessel::daemon::build
