// The filesystem side of a build step: an overlay of a stage's layers with a fresh upper
// directory (mounted through the container backend, as `vessel cp` mounts a stopped container's
// files), and the upper directory, once the step is done, turned into a layer of the store: an
// OCI layer tar (overlayfs whiteouts and opaque directories become .wh. entries), stored as the
// blob its sha256 names, then unpacked by the same code as a pulled layer (stored_layer.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/build/build_state.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon::build {

// The layers' directories in the store (an empty directory in the build for a stage FROM scratch).
Result<std::vector<std::string>> layer_dirs(const StepEnv& env, const std::vector<std::string>& hexes);

// One step's directory (<work>/step-N) with the stage's overlay mounted at rootfs.
class MountedStep {
 public:
  static Result<MountedStep> mount(const StepEnv& env, const StageState& state, const std::string& name);
  MountedStep(MountedStep&& other) noexcept;
  MountedStep& operator=(MountedStep&&) = delete;
  ~MountedStep();

  const std::string& rootfs() const { return rootfs_; }
  const std::string& dir() const { return dir_; }
  void unmount();

 private:
  MountedStep(const StepEnv& env, std::string dir);
  const StepEnv* env_;
  InstanceSpec spec_;
  std::string dir_, rootfs_;
  std::vector<std::string> layers_;
  bool mounted_ = false;
};

// A fresh step directory (<work>/step-N), removed first if a leftover is there.
Result<std::string> new_step_dir(const StepEnv& env);

// The upper directory of step `dir` as a layer of the store: its hex, or none when the step
// changed nothing. The upper directory is removed.
Result<std::optional<std::string>> commit_upper(const StepEnv& env, const std::string& dir);

// A read-only view of `hexes` merged (for COPY --from) at `target` (an empty directory):
// returns the directory to read from (the layer itself when there is one).
Result<std::string> mount_merged(const StepEnv& env, const std::vector<std::string>& hexes, const std::string& target);

}  // namespace vessel::daemon::build
