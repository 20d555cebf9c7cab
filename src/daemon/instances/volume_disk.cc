// A volume for VMs (docs/daemon/volumes.md#vms): an ext4 file system in a raw disk image beside the
// volume's directory, made on first use and attached to the VM as a virtio-blk drive.
#include <fcntl.h>
#include <unistd.h>

#include "base/fd.h"
#include "daemon/instances/backend.h"
#include "daemon/instances/volumes.h"

namespace vessel::daemon {

namespace {

constexpr uint64_t kVolumeDiskBytes = uint64_t{1} << 30;  // sparse: a new volume takes what ext4 writes

// A sparse raw file formatted as ext4 under a temporary name, renamed in place once whole: a crash
// leaves no half-made disk behind the volume's name.
Result<void> make_ext4_disk(const std::string& path) {
  std::string tmp = path + ".new";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return fail_errno("create {}", tmp);
    if (::ftruncate(fd.get(), static_cast<off_t>(kVolumeDiskBytes)) != 0) return fail_errno("size {}", tmp);
  }
  if (auto made = run_tool({"mkfs.ext4", "-q", "-F", "-L", "vessel-volume", tmp}); !made) {
    ::unlink(tmp.c_str());
    return Unexpected(std::move(made).error().add_context("format with mkfs.ext4 (e2fsprogs)"));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail_errno("rename {}", tmp);
  return {};
}

}  // namespace

Result<std::string> Volumes::ensure_disk(const std::string& name) {
  TRY(ensure(name));
  std::lock_guard lock(mutex_);
  std::string path = disk_path(name);
  if (::access(path.c_str(), F_OK) != 0) TRY_CTX(make_ext4_disk(path), "volume {}", name);
  return path;
}

}  // namespace vessel::daemon
