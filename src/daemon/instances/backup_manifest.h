// The manifest of an instance's backup (`vessel export`, docs/daemon/backup.md): the first entry
// of the archive, naming every other file with its size and SHA-256. An import reads it from a
// hostile archive, so everything in it is checked here before any of it is used.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

inline constexpr const char* kBackupFormat = "vessel-backup";
inline constexpr int kBackupVersion = 1;
inline constexpr const char* kBackupManifestName = "manifest.json";
// The container's image, saved as a docker-archive (backup_image.cc); the manager's, not the backend's.
inline constexpr const char* kBackupImagePart = "image.tar";

// What an import accepts at most (the manifest is checked against these before a byte of the
// files is written).
struct BackupLimits {
  size_t max_manifest_bytes = 1 << 20;
  size_t max_files = 4096;
  uint64_t max_total_bytes = uint64_t{4} << 40;  // 4 TiB: over that, surely not an instance
};

// A file of the backup besides the manifest.
struct BackupFile {
  std::string name;    // its entry in the archive: "rootfs-diff.tar", "disks/image-0.qcow2"
  uint64_t size = 0;
  std::string sha256;  // 64 lower-case hex digits
  // VM disks (qcow2): what the file is backed by: the image's base disk `backing_base`, or the
  // backup's file `backing_file`, or nothing (both unset).
  std::optional<uint32_t> backing_base;
  std::string backing_file;
};

struct BackupManifest {
  int version = kBackupVersion;
  std::string name;         // the instance's name when it was exported
  std::string type;         // "vm" | "container"
  std::string state;        // its state then (created, stopped, checkpointed, ...)
  json::Json spec;          // its spec as vesseld stored it (spec/spec.h; parsed again on import)
  std::string image;        // its image's name ("" when it names a rootfs or kernel directly)
  std::string image_digest; // that image's digest (sha256:...)
  bool with_state = false;  // carries the saved guest (a container's CRIU images)
  int64_t created_at = 0;   // unix seconds
  std::vector<BackupFile> files;

  uint64_t total_bytes() const;
  const BackupFile* find(std::string_view name) const;
};

// A file's name in the archive: 1..8 components of [A-Za-z0-9._-] (at most 128 bytes each, none
// "." or ".." or starting with '.'), joined by single '/'; at most 512 bytes. Nothing absolute,
// nothing that climbs, nothing a filesystem could read two ways.
Result<void> check_backup_file_name(std::string_view name);

// Parses and checks the manifest: its own digest (manifest_sha256, over the manifest without
// that field, dumped compactly: a manifest damaged but still JSON would otherwise describe
// another instance), format and version, the spec an object, file names (unique,
// checked as above, never the manifest's own), sizes within `limits`, digests well formed,
// backings naming a file of the backup or a base index below 64.
Result<BackupManifest> parse_backup_manifest(std::string_view text, const BackupLimits& limits = {});

// The manifest as written in a backup: with its manifest_sha256.
json::Json to_json(const BackupManifest& manifest);

}  // namespace vessel::daemon
