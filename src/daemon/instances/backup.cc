// Backups: `vessel export` and `vessel import`, the manager's half (docs/daemon/backup.md). An
// export writes the instance's stored spec, its image's name and digest, and the files its
// backend names (backup_parts) into one archive (backup_archive.h). An import unpacks a backup
// into a staging directory, verifying every byte against the manifest, and only then creates
// the instance from the spec and hands the backend the files; a failure removes the instance.
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>

#include "base/log.h"
#include "daemon/images/image_store.h"
#include "daemon/instances/manager.h"

namespace vessel::daemon {

namespace {

constexpr const char* kStagingPrefix = "import-";

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) log::warn("cannot remove {}: {}", path, ec.message());
}

json::Json summary(const BackupManifest& m) {
  json::Json files = json::Json::array();
  for (const auto& f : m.files) files.push_back({{"name", f.name}, {"size", f.size}});
  return {{"name", m.name}, {"type", m.type}, {"state", m.state}, {"with_state", m.with_state},
          {"image", m.image}, {"bytes", m.total_bytes()}, {"files", std::move(files)}};
}

}  // namespace

void Manager::remove_stale_imports() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(config_.state_dir, ec))
    if (entry.path().filename().string().rfind(kStagingPrefix, 0) == 0) remove_tree(entry.path().string());
}

Result<void> Manager::exportable(const InstanceRow& row, const InstanceSpec& spec, bool with_state) {
  State state = parse_state(row.state).value_or(State::Stopped);
  if (state == State::Incoming)
    return fail(EBUSY, "cannot export {}: it is arriving by live migration", row.name);
  if (with_state && spec.type == InstanceType::Vm && state != State::Suspended)
    return Unexpected(Error(EBUSY, fmt::format("cannot export {} with its state: it is {}, not suspended", row.name, row.state))
                          .with_hint(fmt::format("vessel suspend {} first, or export without --with-state", row.name)));
  if (spec.type == InstanceType::Vm && has_process(state))
    return Unexpected(Error(EBUSY, fmt::format("cannot export {}: the VM is {}", row.name, row.state))
                          .with_hint(fmt::format("stop it first (vessel stop {}): its disks are then consistent", row.name)));
  if (with_state && spec.type == InstanceType::Container && state != State::Checkpointed)
    return Unexpected(Error(EBUSY, fmt::format("cannot export {} with its state: it is {}, not checkpointed", row.name, row.state))
                          .with_hint(fmt::format("vessel checkpoint {} first, or export without --with-state", row.name)));
  return {};
}

Result<json::Json> Manager::export_instance(const std::string& name, const BackupExportOptions& options, int out_fd,
                                            const BackupProgress& progress) {
  auto e = entry(name);
  std::lock_guard lock(e->mutex);
  auto [row, spec] = TRY(load(name));
  TRY(exportable(row, spec, options.with_state));
  InstanceContext ctx{spec, dir_of(name), dir_of(name) + "/console.log", cgroup_of(name)};
  ctx.userns = TRY(userns_of(spec));  // the diff carries the container's own ids
  BootSource boot = TRY_CTX(boot_source(spec, ctx.dir), "export {}", name);
  BackupManifest manifest;
  manifest.name = name;
  manifest.type = std::string(to_string(spec.type));
  manifest.state = row.state;
  manifest.spec = json::parse(row.spec).value_or(json::Json::object());
  manifest.image = spec.image;
  if (!spec.image.empty())
    if (auto image = TRY(store_.get_image(spec.image))) manifest.image_digest = image->digest;
  manifest.with_state = options.with_state;
  manifest.created_at = static_cast<int64_t>(::time(nullptr));
  if (options.basis) *options.basis = ExportBasis{row.state, row.spec, TRY(image_digest_of(spec)), e->mutex.stamp()};
  Backend& backend = backend_for(spec);
  // A running container is frozen while its changes are packed: one instant of its files.
  bool freeze = row.state == to_string(State::Running) && e->process && e->process->alive();
  std::unique_lock frozen(e->export_freeze, std::defer_lock);
  if (freeze) {
    frozen.lock();
    TRY_CTX(backend.pause(ctx, *e->process), "freeze {} for its export", name);
  }
  auto parts = backend.backup_parts(ctx, boot, options.with_state);
  if (freeze)
    if (auto thawed = backend.resume(ctx, *e->process); !thawed) log::warn("{}: thaw after export: {}", name, thawed.error().to_string());
  if (frozen.owns_lock()) frozen.unlock();
  if (parts) {
    auto image = image_part(spec, ctx.dir);
    if (!image) parts = Unexpected(std::move(image).error());
    else if (*image) parts->push_back(std::move(**image));
  }
  auto written = parts ? write_backup(out_fd, std::move(manifest), *parts, options.zstd, progress)
                       : Result<BackupManifest>(Unexpected(std::move(parts).error()));
  backend.backup_done(ctx);
  if (parts)
    for (const auto& p : *parts)
      if (p.file.name == kBackupImagePart) ::unlink(p.path.c_str());
  if (!written) return Unexpected(std::move(written).error().add_context(fmt::format("export {}", name)));
  events_.publish({{"type", "instance-exported"}, {"name", name}, {"bytes", written->total_bytes()}});
  log::info("{} exported: {} files, {} bytes", name, written->files.size(), written->total_bytes());
  return summary(*written);
}

Result<ExportBasis> Manager::export_basis(const std::string& name) {
  auto e = entry(name);
  uint64_t stamp = e->mutex.stamp();  // first: whatever changes after this read takes a new stamp
  auto [row, spec] = TRY(load(name));
  return ExportBasis{row.state, row.spec, TRY(image_digest_of(spec)), stamp};
}

Result<std::string> Manager::image_digest_of(const InstanceSpec& spec) {
  if (spec.image.empty()) return std::string();
  auto image = TRY(images_.find(spec.image));
  return image ? image->digest : std::string();
}

Result<InstanceSpec> Manager::spec_for_import(const BackupManifest& manifest, const BackupImportOptions& options) {
  auto spec = TRY_CTX(parse_spec(options.spec ? *options.spec : manifest.spec), "the backup's spec");
  if (std::string(to_string(spec.type)) != manifest.type)
    return fail(EINVAL, "the backup says it is a {} but its spec is a {}'s", manifest.type, to_string(spec.type));
  if (!options.name.empty()) spec.name = options.name;
  TRY(validate_name(spec.name));
  if (TRY(store_.get_instance(spec.name)))
    return Unexpected(Error(EEXIST, fmt::format("an instance named {} already exists here", spec.name))
                          .with_hint("import it under another name (vessel import FILE --name NEW)"));
  if (!options.network.empty()) spec.network = options.network;
  if (manifest.with_state && spec.type == InstanceType::Container && !options.admin)
    return Unexpected(Error(EPERM, "only an admin may import a container's backup with a saved state")
                          .with_hint("CRIU restores whatever the images say, as root"));
  if (!spec.image.empty()) {
    auto image = TRY(images_.find(spec.image));
    if (!image && manifest.find(kBackupImagePart)) return spec;  // it brings its own
    if (!image)
      return Unexpected(Error(ENOENT, fmt::format("the backup's image {} is not here", spec.image))
                            .with_hint(fmt::format("import that image first (vessel image import ... --name {}), the one "
                                                   "with digest {}", spec.image, manifest.image_digest)));
    if (!manifest.image_digest.empty() && image->digest != manifest.image_digest)
      return Unexpected(Error(EINVAL, fmt::format("image {} here is not the one the backup was made on ({} here, {} in "
                                                  "the backup)", spec.image, image->digest, manifest.image_digest))
                            .with_hint("import the backup's image under its name on this host"));
  }
  return spec;
}

Result<void> Manager::restore_backup(const InstanceSpec& spec, const BootSource& boot, const std::string& staging,
                                     const BackupManifest& manifest) {
  auto e = entry(spec.name);
  std::lock_guard lock(e->mutex);
  InstanceContext ctx{spec, dir_of(spec.name), dir_of(spec.name) + "/console.log", cgroup_of(spec.name)};
  ctx.userns = TRY(userns_of(spec));  // the diff's ids land in the new instance's range
  BackupManifest backend_files = manifest;  // the image is the manager's (backup_image.cc)
  std::erase_if(backend_files.files, [](const BackupFile& f) { return f.name == kBackupImagePart; });
  TRY(backend_for(spec).restore_parts(ctx, boot, staging, backend_files));
  if (manifest.with_state)
    TRY(set_state(spec.name, spec.type == InstanceType::Container ? State::Checkpointed : State::Suspended, nullptr, "import"));
  return {};
}

Result<json::Json> Manager::import_instance(archive* in, const BackupImportOptions& options,
                                            const BackupProgress& progress) {
  std::string staging = config_.state_dir + "/" + kStagingPrefix + "XXXXXX";
  if (!::mkdtemp(staging.data())) return fail_errno("mkdtemp in {}", config_.state_dir);
  struct Staging {
    std::string dir;
    ~Staging() { remove_tree(dir); }
  } staged{staging};
  InstanceSpec spec;
  auto check = [&](const BackupManifest& m) -> Result<void> {
    spec = TRY(spec_for_import(m, options));
    return {};
  };
  auto manifest = TRY_CTX(unpack_backup(in, staging, options.limits, check, progress), "import");
  bool image_added = TRY_CTX(import_carried_image(spec, staging, manifest), "import {}", spec.name);
  // A failure from here on removes what the import made: the instance, and the image it brought.
  auto undo_image = [&] {
    if (image_added)
      if (auto removed = images_.remove(spec.image); !removed)
        log::warn("import of {} failed, and so did removing its image: {}", spec.name, removed.error().to_string());
  };
  auto resolved = resolve_network(spec);
  if (!resolved) {
    undo_image();
    return Unexpected(std::move(resolved).error().add_context(
        fmt::format("import {} (its network: pass another one with --network)", spec.name)));
  }
  auto boot = create_instance(*resolved);
  if (!boot) {
    undo_image();
    return Unexpected(std::move(boot).error().add_context(fmt::format("import {}", spec.name)));
  }
  if (auto restored = restore_backup(*resolved, *boot, staging, manifest); !restored) {
    if (auto removed = remove(resolved->name, true); !removed)
      log::warn("import of {} failed, and so did removing it: {}", resolved->name, removed.error().to_string());
    undo_image();
    return Unexpected(std::move(restored).error().add_context(fmt::format("import {}", resolved->name)));
  }
  events_.publish({{"type", "instance-imported"}, {"name", resolved->name}, {"from", manifest.name}});
  log::info("{} imported from a backup of {} ({} bytes)", resolved->name, manifest.name, manifest.total_bytes());
  return get(resolved->name);
}

}  // namespace vessel::daemon
