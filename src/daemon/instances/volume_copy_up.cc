#include "daemon/instances/volume_copy_up.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fd.h"
#include "files/confined_root.h"
#include "files/tar_pack.h"
#include "files/tar_unpack.h"

namespace vessel::daemon {

namespace {

Result<bool> is_empty_dir(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return fail_errno("open volume directory {}", dir);
  while (dirent* e = ::readdir(d.get()))
    if (std::string_view name = e->d_name; name != "." && name != "..") return false;
  return true;
}

// The image's directory at `target` as a tar in an unnamed file, then unpacked into the volume:
// both ends resolved inside their roots (a symlink in the image cannot reach the host), owners kept.
Result<void> copy_tree(const files::ConfinedRoot& image, const std::string& target, const std::string& volume,
                       const std::string& scratch_dir) {
  Fd tar(::open(scratch_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!tar) return fail_errno("a temporary file in {}", scratch_dir);
  TRY(files::pack(image, target, "", {}, tar.get()));
  if (::lseek(tar.get(), 0, SEEK_SET) < 0) return fail_errno("rewind the copy of {}", target);
  auto reader = TRY(files::open_tar_fd(tar.get()));
  auto into = TRY(files::ConfinedRoot::open(volume));
  files::UnpackOptions options;
  options.keep_owner = true;
  options.ids = [](int64_t uid, int64_t gid) -> Result<std::pair<uid_t, gid_t>> {
    return std::pair{static_cast<uid_t>(uid), static_cast<gid_t>(gid)};
  };
  TRY(files::unpack(into, "", reader.get(), options));
  return {};
}

}  // namespace

Result<void> copy_image_files_into_empty_volumes(const std::string& rootfs,
                                                 const std::vector<std::pair<MountSpec, std::string>>& mounts,
                                                 const std::string& scratch_dir) {
  std::optional<files::ConfinedRoot> image;
  for (const auto& [mount, volume] : mounts) {
    if (mount.kind != MountKind::Volume || !TRY(is_empty_dir(volume))) continue;
    if (!image) image = TRY(files::ConfinedRoot::open(rootfs));
    auto found = files::stat_in(*image, mount.target, true);
    if (!found || !S_ISDIR(found->mode)) continue;  // nothing there in the image (or not a directory)
    TRY_CTX(copy_tree(*image, mount.target, volume, scratch_dir), "copy the image's {} into volume {}", mount.target,
            mount.source);
    Fd dir = TRY(image->open_dir(mount.target, false));
    struct stat st;  // the directory itself: its owner and mode, as the image has them
    if (::fstat(dir.get(), &st) == 0) {
      (void)!::chown(volume.c_str(), st.st_uid, st.st_gid);
      ::chmod(volume.c_str(), st.st_mode & 07777);
    }
  }
  return {};
}

}  // namespace vessel::daemon
