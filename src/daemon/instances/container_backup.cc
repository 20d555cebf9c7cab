// A container's backup (docs/daemon/backup.md): its changes to the image, the overlay upper
// directory packed as an OCI layer (rootfs-diff.tar, as `vessel checkpoint --export` packs it);
// or, with its saved state, the checkpoint export itself (checkpoint.tar, which carries that diff
// too). The import unpacks them by the same rules as the checkpoint import.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/instances/container_backend.h"

namespace vessel::daemon {

namespace {

constexpr const char* kRootfsDiffPart = "rootfs-diff.tar";
constexpr const char* kCheckpointPart = "checkpoint.tar";

// Made in the instance's directory for the archive, removed by backup_done().
std::string made_diff(const InstanceContext& ctx) { return ctx.dir + "/backup-rootfs-diff.tar"; }
std::string made_checkpoint(const InstanceContext& ctx) { return ctx.dir + "/backup-checkpoint.tar"; }

bool is_dir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

Result<std::vector<BackupPart>> ContainerBackend::backup_parts(const InstanceContext& ctx, const BootSource&,
                                                               bool with_state) {
  backup_done(ctx);
  std::vector<BackupPart> parts;
  if (with_state) {
    Fd out = TRY(Fd::open(made_checkpoint(ctx), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    TRY(export_saved(ctx, out.get()));
    parts.push_back({BackupFile{kCheckpointPart}, made_checkpoint(ctx)});
    return parts;
  }
  if (!is_dir(ctx.dir + "/upper")) return parts;  // never started: nothing changed yet
  auto root = TRY(files::ConfinedRoot::open(ctx.dir));
  TRY_CTX(pack_rootfs_diff(ctx, root, made_diff(ctx)), "pack the changes to {}'s root filesystem", ctx.spec.name);
  parts.push_back({BackupFile{kRootfsDiffPart}, made_diff(ctx)});
  return parts;
}

void ContainerBackend::backup_done(const InstanceContext& ctx) {
  ::unlink(made_diff(ctx).c_str());
  ::unlink(made_checkpoint(ctx).c_str());
}

Result<void> ContainerBackend::restore_parts(const InstanceContext& ctx, const BootSource&, const std::string& staging,
                                             const BackupManifest& manifest) {
  for (const auto& f : manifest.files)
    if (f.name != kRootfsDiffPart && f.name != kCheckpointPart)
      return fail(EINVAL, "a container's backup holds no file {}", f.name);
  if (manifest.find(kCheckpointPart)) {
    Fd in = TRY(Fd::open(staging + "/" + kCheckpointPart, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    TRY_CTX(import_saved(ctx, in.get()), "the backup's checkpoint");
  }
  // A failure leaves the staged upper directory to the instance's removal (the manager's).
  if (manifest.find(kRootfsDiffPart) && TRY(stage_rootfs_diff(ctx, staging + "/" + kRootfsDiffPart)))
    TRY(swap_in_rootfs_diff(ctx));
  return {};
}

}  // namespace vessel::daemon
