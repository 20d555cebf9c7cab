// Containers saved to disk: the runtime's checkpoint and restore (CRIU), images in
// <instance>/checkpoint. docs/daemon/suspend.md.
#include <sys/stat.h>

#include <filesystem>

#include "daemon/instances/container_backend.h"
#include "files/tar_pack.h"
#include "files/tar_unpack.h"
#include "runtime/checkpoint.h"

namespace vessel::daemon {

namespace {

std::string image_dir(const InstanceContext& ctx) { return ctx.dir + "/checkpoint"; }
std::string work_dir(const InstanceContext& ctx) { return ctx.dir + "/checkpoint-work"; }

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
  return files::pack(root, "checkpoint", "checkpoint", {}, fd);
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
    discard_saved(ctx);
    if (::rename(staging.c_str(), image_dir(ctx).c_str()) != 0) return fail_errno("rename {}", staging);
    return {};
  }();
  if (!imported) remove_tree(staging);
  return imported;
}

}  // namespace vessel::daemon
