// Containers saved to disk: the runtime's checkpoint and restore (CRIU), images in
// <instance>/checkpoint. An export also carries the container's changes to its root filesystem
// (its overlay upper directory) as an OCI layer, rootfs-diff.tar, as podman's does.
// docs/daemon/suspend.md.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "daemon/images/layer_unpack.h"
#include "daemon/instances/container_backend.h"
#include "files/tar_pack.h"
#include "files/tar_unpack.h"
#include "runtime/checkpoint.h"

namespace vessel::daemon {

namespace {

std::string image_dir(const InstanceContext& ctx) { return ctx.dir + "/checkpoint"; }
std::string work_dir(const InstanceContext& ctx) { return ctx.dir + "/checkpoint-work"; }
constexpr const char* kRootfsDiff = "rootfs-diff.tar";
std::string staged_upper(const InstanceContext& ctx) { return ctx.dir + "/upper.import"; }

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

}  // namespace

Result<void> ContainerBackend::save(const InstanceContext& ctx, const GuestProcess&, const SaveOptions& o) {
  remove_tree(image_dir(ctx));
  std::vector<std::string> argv = command({"checkpoint", "--image-path", image_dir(ctx), "--work-path", work_dir(ctx)});
  if (o.leave_running) argv.push_back("--leave-running");
  argv.push_back(ctx.spec.name);
  TRY(run_tool(argv, std::chrono::minutes(5)));
  if (o.leave_running) return {};
  // The runtime deleted the container; its root filesystem mount goes too (restore mounts it
  // again, over the same upper layer).
  cleanup(ctx);
  return {};
}

Result<GuestProcess> ContainerBackend::restore_saved(const InstanceContext& ctx, const BootSource& boot) {
  auto proc = TRY(launch(ctx, boot,
                         {"restore", "--detach", "--image-path", image_dir(ctx), "--work-path", work_dir(ctx)}, false));
  discard_saved(ctx);  // a restored container's images are stale
  return proc;
}

void ContainerBackend::discard_saved(const InstanceContext& ctx) { remove_tree(image_dir(ctx)); }

Result<void> ContainerBackend::export_saved(const InstanceContext& ctx, int fd) {
  struct stat st;
  if (::lstat(image_dir(ctx).c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail(ENOENT, "{} has no checkpoint to export", ctx.spec.name);
  auto root = TRY(files::ConfinedRoot::open(ctx.dir));
  // The diff is written into the checkpoint for the pack, and goes once it is packed.
  std::string diff = image_dir(ctx) + "/" + kRootfsDiff;
  auto packed = [&]() -> Result<void> {
    TRY_CTX(pack_rootfs_diff(ctx, root, diff), "pack the changes to {}'s root filesystem", ctx.spec.name);
    return files::pack(root, "checkpoint", "checkpoint", {}, fd);
  }();
  ::unlink(diff.c_str());
  return packed;
}

Result<void> ContainerBackend::pack_rootfs_diff(const InstanceContext& ctx, const files::ConfinedRoot& root,
                                                const std::string& path) {
  files::PackOptions options;
  options.oci_whiteouts = true;
  // A user namespace's files are written with the container's own ids: the import maps them to
  // the range of the container it lands in.
  // An id outside the range (none the container can make) is written as the overflow id, nobody.
  if (ctx.userns)
    options.ids = [r = *ctx.userns](uid_t uid, gid_t gid) {
      auto inside = [&](uint32_t id, uint32_t base) -> int64_t {
        return id >= base && id - base < r.count ? int64_t{id} - base : int64_t{65534};
      };
      return std::pair<int64_t, int64_t>(inside(uid, r.uid), inside(gid, r.gid));
    };
  Fd out = TRY(Fd::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  return files::pack(root, "upper", "", options, out.get());
}

Result<void> ContainerBackend::import_saved(const InstanceContext& ctx, int fd) {
  // Unpacked beside the current checkpoint, which it replaces only once it is whole and checked.
  std::string staging = ctx.dir + "/checkpoint.import";
  remove_tree(staging);
  if (::mkdir(staging.c_str(), 0700) != 0) return fail_errno("mkdir {}", staging);
  auto imported = [&]() -> Result<void> {
    auto root = TRY(files::ConfinedRoot::open(staging));
    auto reader = TRY(files::open_tar_fd(fd));
    files::UnpackOptions options;
    options.rebase = std::make_pair(std::string("checkpoint"), std::string());
    TRY_CTX(files::unpack(root, "", reader.get(), options), "not a checkpoint of vessel (a tar with checkpoint/ at its top)");
    // Parsed now, so that a bad file fails the import rather than the restore.
    auto meta = TRY_CTX(read_file(staging + "/" + runtime::kCheckpointMetaFile), "not a checkpoint of vessel-runtime");
    TRY(runtime::CheckpointMeta::parse(meta));
    bool has_diff = TRY(stage_rootfs_diff(ctx, staging + "/" + kRootfsDiff));
    discard_saved(ctx);
    if (::rename(staging.c_str(), image_dir(ctx).c_str()) != 0) return fail_errno("rename {}", staging);
    if (has_diff) TRY(swap_in_rootfs_diff(ctx));
    return {};
  }();
  if (!imported) remove_tree(staging);
  remove_tree(staged_upper(ctx));
  return imported;
}

Result<bool> ContainerBackend::stage_rootfs_diff(const InstanceContext& ctx, const std::string& diff) {
  struct stat st;
  if (::lstat(diff.c_str(), &st) != 0) return false;  // an export from before diffs were exported
  if (!S_ISREG(st.st_mode)) return fail(EINVAL, "{} in the checkpoint is not a file", kRootfsDiff);
  remove_tree(staged_upper(ctx));
  // A hostile archive: unpacked by the rules of image layers.
  TRY_CTX(unpack_layer(diff, staged_upper(ctx), ctx.userns), "the checkpoint's changes to the root filesystem");
  ::unlink(diff.c_str());
  return true;
}

Result<void> ContainerBackend::swap_in_rootfs_diff(const InstanceContext& ctx) {
  // The upper directory's own mode and owner are the root directory's (CRIU checks its mode):
  // the current one's, or for a container never started 0755 and its root user, as a first
  // start would give it from the image.
  std::string staged = staged_upper(ctx), upper = ctx.dir + "/upper";
  struct stat st{};
  if (::stat(upper.c_str(), &st) != 0) {
    st.st_mode = 0755;
    st.st_uid = ctx.userns ? ctx.userns->uid : 0;
    st.st_gid = ctx.userns ? ctx.userns->gid : 0;
  }
  if (::chown(staged.c_str(), st.st_uid, st.st_gid) != 0 || ::chmod(staged.c_str(), st.st_mode & 07777) != 0)
    return fail_errno("give {} the mode of {}", staged, upper);
  remove_tree(upper);
  remove_tree(ctx.dir + "/work");  // overlayfs's scratch space belonged to the old upper directory
  if (::rename(staged.c_str(), upper.c_str()) != 0) return fail_errno("rename {}", staged);
  return {};
}

}  // namespace vessel::daemon
