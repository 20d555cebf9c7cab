// A VM's backup (docs/daemon/backup.md): the qcow2 files in its directory that its disks are
// made of (each top, and the snapshot layers below it, disk_layers.h), each with what it is
// backed by: another of them, or the image's base disk N, which the backup names by index only
// (the image travels by name and digest). The import puts the files where the new instance's
// disks are and rewrites each one's backing file name to its new place (an unsafe rebase: the
// header only), so nothing a file's own header names is ever followed. With --with-state, a
// suspended VM's saved state (vm_suspend.cc) travels too; its snapshot names the disks by their
// paths, so it comes back only where the instance's directory is the same path (the same name
// under the same state directory), and the import checks that.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <set>

#include "block/image.h"
#include "block/img_ops.h"
#include "daemon/images/disk_layers.h"
#include "daemon/instances/vm_backend.h"

namespace vessel::daemon {

namespace {

bool inside(const std::string& path, const std::string& dir) { return path.rfind(dir + "/", 0) == 0; }

// INSTANCE/suspended's files, and "origin": the instance's directory, where the snapshot's disks are.
constexpr const char* kSavedStateFiles[] = {"suspended/vm.state", "suspended/vm.mem", "suspended/origin"};
constexpr const char* kOriginFile = "suspended/origin";

bool is_saved_state_file(const std::string& name) {
  return std::find(std::begin(kSavedStateFiles), std::end(kSavedStateFiles), name) != std::end(kSavedStateFiles);
}

Result<std::vector<BackupPart>> saved_state_parts(const InstanceContext& ctx) {
  TRY(write_file(ctx.dir + "/" + kOriginFile, ctx.dir));
  std::vector<BackupPart> parts;
  for (const char* name : kSavedStateFiles) {
    std::string path = ctx.dir + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return fail(ENOENT, "{} has no saved state ({} is missing)", ctx.spec.name, name);
    parts.push_back({BackupFile{name}, path});
  }
  return parts;
}

// The snapshot's disk paths are the exporting instance's: the same directory here, or nothing.
Result<void> check_origin(const InstanceContext& ctx, const std::string& staging) {
  auto origin = TRY_CTX(read_file(staging + "/" + kOriginFile), "the backup's saved state");
  if (origin == ctx.dir) return {};
  return Unexpected(Error(EINVAL, fmt::format("the backup's saved state names its disks under {}, not {}", origin, ctx.dir))
                        .with_hint("import it under its own name into a vesseld with the same --state-dir, or export "
                                   "it again without --with-state"));
}

// How `file` (inside the instance) is backed: by `next`, another file of the instance, or a
// base disk of its image.
Result<BackupFile> describe(const InstanceContext& ctx, const BootSource& boot, const std::string& file,
                            const std::string* next) {
  BackupFile f{file.substr(ctx.dir.size() + 1)};
  TRY_CTX(check_backup_file_name(f.name), "{}", ctx.spec.name);
  if (!next) return f;
  if (inside(*next, ctx.dir)) {
    f.backing_file = next->substr(ctx.dir.size() + 1);
    return f;
  }
  for (size_t i = 0; i < boot.base_disks.size(); ++i)
    if (boot.base_disks[i].path == *next) {
      f.backing_base = static_cast<uint32_t>(i);
      return f;
    }
  return fail(ENOTSUP, "{}: {} is backed by {}, which is neither the instance's nor its image's", ctx.spec.name, file,
              *next);
}

}  // namespace

Result<std::vector<BackupPart>> VmBackend::backup_parts(const InstanceContext& ctx, const BootSource& boot,
                                                        bool with_state) {
  std::vector<BackupPart> parts;
  if (with_state) parts = TRY(saved_state_parts(ctx));
  std::set<std::string> taken;
  for (const auto& disk : boot.disks) {
    if (!inside(disk.path, ctx.dir)) continue;  // a host disk of the spec's: named, not carried
    std::vector<std::string> files{disk.path};
    for (auto& below : TRY(backing_chain(disk.path))) files.push_back(std::move(below));
    for (size_t i = 0; i < files.size() && inside(files[i], ctx.dir); ++i) {
      if (!taken.insert(files[i]).second) break;  // the rest of this chain is in already
      const std::string* next = i + 1 < files.size() ? &files[i + 1] : nullptr;
      parts.push_back({TRY(describe(ctx, boot, files[i], next)), files[i]});
    }
  }
  return parts;
}

Result<void> VmBackend::restore_parts(const InstanceContext& ctx, const BootSource& boot, const std::string& staging,
                                      const BackupManifest& manifest) {
  std::set<std::string> backings;
  bool with_state = false;
  for (const auto& f : manifest.files) {
    if (is_saved_state_file(f.name) && manifest.with_state) {
      with_state = true;
      continue;
    }
    if (f.name.rfind("disks/", 0) != 0) return fail(EINVAL, "a VM's backup holds no file {}", f.name);
    if (f.backing_base && *f.backing_base >= boot.base_disks.size())
      return fail(EINVAL, "{} in the backup is backed by base disk {} of image {}, which has {}", f.name,
                  *f.backing_base, ctx.spec.image, boot.base_disks.size());
    if (!f.backing_file.empty()) backings.insert(f.backing_file);
  }
  if (with_state) TRY(check_origin(ctx, staging));
  for (const auto& f : manifest.files) {
    std::string target = ctx.dir + "/" + f.name;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(target).parent_path(), ec);
    if (ec) return fail(ec.value(), "mkdir for {}: {}", target, ec.message());
    if (::rename((staging + "/" + f.name).c_str(), target.c_str()) != 0) return fail_errno("move {} to {}", f.name, target);
  }
  for (const auto& f : manifest.files) {
    if (is_saved_state_file(f.name)) continue;  // moved in place above, no backing file to name
    std::string target = ctx.dir + "/" + f.name;
    std::string backing;
    std::optional<block::Format> backing_format;
    if (f.backing_base) {
      backing = boot.base_disks[*f.backing_base].path;
      backing_format = TRY(block::parse_format(boot.base_disks[*f.backing_base].format));
    } else if (!f.backing_file.empty()) {
      backing = ctx.dir + "/" + f.backing_file;
      backing_format = block::Format::Qcow2;
    }
    block::Access header_only;
    header_only.backing = block::BackingPolicy::Refuse;
    TRY_CTX(block::rebase_image(target, block::Format::Qcow2, backing, backing_format, /*unsafe=*/true, header_only),
            "{} in the backup (a qcow2 disk)", f.name);
    // Layers are never written again (disk_layers.h); the tops are the VM's.
    if (::chmod(target.c_str(), backings.count(f.name) ? 0444 : 0600) != 0) return fail_errno("chmod {}", target);
  }
  return {};
}

}  // namespace vessel::daemon
