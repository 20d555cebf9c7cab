// Containers saved to disk: the runtime's checkpoint and restore (CRIU), images in
// <instance>/checkpoint. docs/daemon/suspend.md.
#include <filesystem>

#include "daemon/instances/container_backend.h"

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

}  // namespace vessel::daemon
