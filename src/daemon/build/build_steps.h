// The steps of a build that change files: RUN (build_run.cc) and COPY/ADD (build_copy.cc).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/build/build_state.h"
#include "daemon/images/dockerfile.h"

namespace vessel::daemon::build {

struct RunResult {
  int exit_code = -1;
  std::string reason;       // how it ended ("exited", "killed", ...)
  std::string output_tail;  // its last lines, for the error
};

// Runs `argv` in a vessel-runtime container on an overlay of the stage's layers, with the stage's
// environment (ENV, and the ARGs as variables), user and working directory; the output goes to
// env.log as it comes. `dir`: the step's directory, whose upper directory then holds the changes.
Result<RunResult> run_in_container(const StepEnv& env, const StageState& state, const std::vector<std::string>& argv,
                                   const std::string& dir);

// Where COPY/ADD take files from: the context, or another stage's or an image's files.
struct CopySource {
  std::string root;  // a directory read with ConfinedRoot
  bool context = false;
};

// COPY and ADD: their sources resolved and packed now (`digest`: what the cache key takes);
// apply() then writes them into the mounted step's root filesystem.
class CopyPlan {
 public:
  static Result<CopyPlan> prepare(const StepEnv& env, const dockerfile::Instruction& in, const StageState& state,
                                  const CopySource& source, const std::string& dir);
  const std::string& digest() const { return digest_; }
  Result<void> apply(const std::string& rootfs) const;

 private:
  struct Item {
    std::string tar;       // packed source (or the archive itself, for ADD)
    std::string top;       // its top entry's name ("" for a directory's contents)
    bool directory = false;
    bool archive = false;  // ADD of a local tar: unpacked into the destination
  };
  std::vector<Item> items_;
  std::string dest;  // absolute in the container
  bool dest_is_dir = false;
  std::optional<std::string> chown;
  std::string digest_;
};

}  // namespace vessel::daemon::build
