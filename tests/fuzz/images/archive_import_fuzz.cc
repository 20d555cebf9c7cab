// Fuzz target: whole image archives. The first byte picks what the rest is fed to:
//   even: an image tarball for import_image_archive (outer tar, manifest/index/config JSON,
//         digests, then the layers when their digests hold);
//   odd:  a layer tar for unpack_layer (whiteouts, opaque markers, links, devices, xattrs).
// Errors are fine; crashes, sanitizer reports, uncaught exceptions and escapes are not: a canary
// file outside the store, which the hostile seeds' symlinks point at, must survive every input.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/fd.h"
#include "daemon/images/archive_import.h"
#include "daemon/images/image_store.h"
#include "daemon/images/layer_unpack.h"
#include "../escape_canary.h"

namespace {

namespace fs = std::filesystem;

// The seeds' symlinks lead here ("x -> /tmp/vessel-archive-fuzz-canary").
const vessel::fuzz::EscapeCanary& canary() {
  static const vessel::fuzz::EscapeCanary c("/tmp/vessel-archive-fuzz-canary", "canary: an image layer must never reach this file\n");
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  canary().plant();
  const std::string& dir = vessel::fuzz::work_dir("vessel-archive-fuzz");
  std::string input = dir + "/input.tar";
  {
    std::ofstream out(input, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data) + 1, static_cast<std::streamsize>(size - 1));
  }
  if (data[0] % 2 == 0)
    (void)vessel::daemon::import_image_archive(input, dir + "/store",
                                               [](const vessel::daemon::ImportProgress&) {});
  else
    (void)vessel::daemon::unpack_layer(input, dir + "/layer");
  canary().check("store");
  std::error_code ec;
  fs::remove_all(dir + "/store", ec);
  fs::remove_all(dir + "/layer", ec);
  return 0;
}
