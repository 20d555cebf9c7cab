// Fuzzes the reader of instance backups (docs/daemon/backup.md), what `vessel import` and POST
// /v1/instances/import feed a client's archive to. The first byte picks the part:
//   even: the whole archive through read_backup (tar, manifest, entries, sizes, digests), the
//         files' bytes going to /dev/null; what it accepts must be a manifest that parses again;
//   odd:  the rest as a manifest alone (parse_backup_manifest), round-tripped when accepted.
#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/fd.h"
#include "daemon/instances/backup_archive.h"
#include "files/tar_unpack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vessel;
  using namespace vessel::daemon;
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  BackupLimits limits;
  limits.max_total_bytes = 64 << 20;  // the fuzzer's inputs are small; keep its writes so
  if (data[0] % 2 == 0) {
    auto in = files::open_tar_memory(rest);
    if (!in) return 0;
    auto sink = [](const BackupFile&) { return Fd::open("/dev/null", O_WRONLY | O_CLOEXEC); };
    if (auto m = read_backup(in->get(), limits, nullptr, sink)) (void)parse_backup_manifest(to_json(*m).dump(), limits).value();
    return 0;
  }
  if (auto m = parse_backup_manifest(rest, limits)) (void)parse_backup_manifest(to_json(*m).dump(), limits).value();
  return 0;
}
