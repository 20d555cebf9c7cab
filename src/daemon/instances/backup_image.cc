// A backup carries its container's image (docs/daemon/backup.md#the-image): `vessel export` saves
// the image into the archive as image.tar (a docker-archive, as `vessel image save` writes it),
// so that `vessel import` on a host that lacks the image brings it along instead of refusing.
#include <fcntl.h>
#include <unistd.h>

#include "base/log.h"
#include "daemon/images/image_save.h"
#include "daemon/images/image_store.h"
#include "daemon/instances/manager.h"

namespace vessel::daemon {

Result<std::optional<BackupPart>> Manager::image_part(const InstanceSpec& spec, const std::string& dir) {
  if (spec.type != InstanceType::Container || spec.image.empty()) return std::nullopt;
  std::string path = dir + "/backup-image.tar";
  Fd out = TRY(Fd::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (auto saved = images_.save(spec.image, SaveFormat::DockerArchive, out.get()); !saved) {
    // An image imported before images kept their config cannot be saved: the backup still
    // works where the image is.
    ::unlink(path.c_str());
    log::warn("{}: the backup does not carry image {}: {}", spec.name, spec.image, saved.error().to_string());
    return std::nullopt;
  }
  return BackupPart{BackupFile{kBackupImagePart}, path};
}

Result<bool> Manager::import_carried_image(const InstanceSpec& spec, const std::string& staging,
                                           const BackupManifest& manifest) {
  if (spec.image.empty() || !manifest.find(kBackupImagePart) || TRY(images_.find(spec.image))) return false;
  TRY_CTX(images_.import_archive(spec.image, staging + "/" + kBackupImagePart, [](const ImportProgress&) {}),
          "the backup's image {}", spec.image);
  log::info("image {} imported from the backup of {}", spec.image, manifest.name);
  return true;
}

}  // namespace vessel::daemon
