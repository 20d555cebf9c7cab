// The archive of an instance's backup (docs/daemon/backup.md): a tar (pax; zstd-compressed on
// request) whose first entry is manifest.json and whose other entries are exactly the regular
// files the manifest names, in its order. Written from host files; read from hostile bytes.
#pragma once

#include <archive.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "daemon/instances/backup_manifest.h"

namespace vessel::daemon {

// Bytes of the files done so far, of all of them.
using BackupProgress = std::function<void(uint64_t done, uint64_t total)>;

// A file to put in the backup: its name there (and its backing, manifest.h), and where it is.
struct BackupPart {
  BackupFile file;  // size and sha256 are filled in by write_backup
  std::string path; // on the host
};

// Hashes every part, completes `manifest` with them and writes the archive to `out_fd`. A part
// that changes while it is written (its size) fails the export.
Result<BackupManifest> write_backup(int out_fd, BackupManifest manifest, const std::vector<BackupPart>& parts,
                                    bool zstd, const BackupProgress& progress = {});

// Where the reader puts the bytes of a file the manifest names (a staging file, /dev/null).
using BackupSink = std::function<Result<Fd>(const BackupFile& file)>;
// Called once with the parsed manifest before any file is read: refuses what this host cannot
// take (not enough room, a name taken, ...).
using ManifestCheck = std::function<Result<void>(const BackupManifest& manifest)>;

// Reads a backup from `in` (any tar libarchive reads: plain, gzip, zstd). The manifest first;
// then every entry must be a regular file the manifest names, once, of the named size, and its
// SHA-256 must match; no other entry (a link, a device, a directory, an unnamed file) and no file
// missing. Any error says what was wrong; the sink's files are then the caller's to remove.
Result<BackupManifest> read_backup(archive* in, const BackupLimits& limits, const ManifestCheck& check,
                                   const BackupSink& sink, const BackupProgress& progress = {});

// read_backup into `dir` (an empty directory of the caller's): each file at its name below it.
// The manifest must fit in the free space of dir's filesystem (ENOSPC, said before writing).
Result<BackupManifest> unpack_backup(archive* in, const std::string& dir, const BackupLimits& limits,
                                     const ManifestCheck& check, const BackupProgress& progress = {});

}  // namespace vessel::daemon
