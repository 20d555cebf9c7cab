#include "daemon/build/build_layer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "base/fd.h"
#include "daemon/images/image_store.h"
#include "daemon/images/sha256.h"
#include "daemon/images/stored_layer.h"
#include "daemon/instances/container_backend.h"
#include "files/confined_root.h"
#include "files/tar_pack.h"

namespace vessel::daemon::build {

namespace fs = std::filesystem;

namespace {

std::atomic<uint64_t> step_counter{0};

InstanceContext step_context(const InstanceSpec& spec, const std::string& dir) {
  return InstanceContext{spec, dir, dir + "/output.log"};
}

bool dir_is_empty(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return true;
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

}  // namespace

Result<std::vector<std::string>> layer_dirs(const StepEnv& env, const std::vector<std::string>& hexes) {
  std::vector<std::string> out;
  for (const auto& hex : hexes) {
    std::string dir = env.images.dir() + "/layers/" + hex;
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return fail(ENOENT, "layer {} is missing from the store", hex);
    out.push_back(dir);
  }
  if (out.empty()) {  // FROM scratch: an empty root, mode 0755 as Docker's
    std::string empty = env.work + "/scratch";
    if (::mkdir(empty.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno("mkdir {}", empty);
    ::chmod(empty.c_str(), 0755);
    out.push_back(empty);
  }
  return out;
}

Result<std::string> new_step_dir(const StepEnv& env) {
  std::string dir = fmt::format("{}/step-{}", env.work, step_counter++);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (::mkdir(dir.c_str(), 0700) != 0) return fail_errno("mkdir {}", dir);
  return dir;
}

MountedStep::MountedStep(const StepEnv& env, std::string dir) : env_(&env), dir_(std::move(dir)) {
  spec_.name = "build step";
  rootfs_ = dir_ + "/rootfs";
}

MountedStep::MountedStep(MountedStep&& o) noexcept
    : env_(o.env_), spec_(o.spec_), dir_(std::move(o.dir_)), rootfs_(std::move(o.rootfs_)),
      layers_(std::move(o.layers_)), mounted_(o.mounted_) {
  o.mounted_ = false;
}

Result<MountedStep> MountedStep::mount(const StepEnv& env, const StageState& state, const std::string& name) {
  MountedStep step(env, TRY(new_step_dir(env)));
  step.spec_.name = name;
  BootSource boot;
  boot.layers = TRY(layer_dirs(env, state.layers));
  step.layers_ = boot.layers;
  TRY(env.containers.mount_files(step_context(step.spec_, step.dir_), boot, false));
  step.mounted_ = true;
  return step;
}

void MountedStep::unmount() {
  if (!mounted_) return;
  env_->containers.release_files(step_context(spec_, dir_), false);
  mounted_ = false;
}

MountedStep::~MountedStep() { unmount(); }

Result<std::optional<std::string>> commit_upper(const StepEnv& env, const std::string& dir) {
  std::string upper = dir + "/upper";
  if (dir_is_empty(upper)) return std::optional<std::string>();
  std::string tar = dir + "/layer.tar";
  {
    auto root = TRY(files::ConfinedRoot::open(dir));
    files::PackOptions options;
    options.oci_whiteouts = true;
    Fd out = TRY(Fd::open(tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    TRY_CTX(files::pack(root, "upper", "", options, out.get()), "pack the step's changes");
  }
  std::string hex = TRY(sha256_file(tar));
  std::string blob = env.images.dir() + "/blobs/sha256/" + hex;
  if (::access(blob.c_str(), F_OK) == 0) {
    ::unlink(tar.c_str());
  } else {
    ::chmod(tar.c_str(), 0644);
    if (::rename(tar.c_str(), blob.c_str()) != 0) return fail_errno("store the layer blob {}", hex);
  }
  // Unpacked from the blob by the code that unpacks pulled layers: the layer is what its digest says.
  TRY_CTX(unpack_stored_layer(env.images.dir(), hex), "store layer {}", hex);
  std::error_code ec;
  fs::remove_all(upper, ec);
  return std::optional<std::string>(hex);
}

Result<std::string> mount_merged(const StepEnv& env, const std::vector<std::string>& hexes, const std::string& target) {
  auto dirs = TRY(layer_dirs(env, hexes));
  if (dirs.size() == 1) return dirs[0];
  std::string lower;
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    if (it->find_first_of(",:") != std::string::npos) return fail(EINVAL, "layer path {} holds ',' or ':'", *it);
    lower += (lower.empty() ? "" : ":") + *it;
  }
  if (::mkdir(target.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno("mkdir {}", target);
  std::string options = "lowerdir=" + lower;
  if (::mount("overlay", target.c_str(), "overlay", MS_RDONLY, options.c_str()) != 0) return fail_errno("mount the layers at {}", target);
  return target;
}

}  // namespace vessel::daemon::build
