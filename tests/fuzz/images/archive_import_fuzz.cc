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

namespace {

namespace fs = std::filesystem;

// The seeds' symlinks lead here ("x -> /tmp/vessel-archive-fuzz-canary").
constexpr const char* kCanaryDir = "/tmp/vessel-archive-fuzz-canary";
constexpr const char* kCanaryText = "canary: an image layer must never reach this file\n";

std::string canary_file() { return std::string(kCanaryDir) + "/secret"; }

bool canary_intact() {
  auto text = vessel::read_file(canary_file());
  struct stat st;
  return text && *text == kCanaryText && ::lstat(canary_file().c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         st.st_nlink == 1;
}

// Fresh for each input (whatever an earlier, crashed run left there), checked right after it.
void plant_canary() {
  if (canary_intact()) return;
  std::error_code ec;
  fs::remove_all(kCanaryDir, ec);
  fs::create_directories(kCanaryDir, ec);
  std::ofstream(canary_file()) << kCanaryText;
}

void check_canary() {
  if (!canary_intact()) {
    std::fprintf(stderr, "an archive reached %s outside the store\n", canary_file().c_str());
    std::abort();
  }
}

// A directory of this process's own, removed at exit.
struct WorkDir {
  WorkDir() {
    char t[] = "/tmp/vessel-archive-fuzz.XXXXXX";
    if (!::mkdtemp(t)) std::abort();
    path = t;
  }
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

const std::string& work_dir() {
  static const WorkDir dir;
  return dir.path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  plant_canary();
  const std::string& dir = work_dir();
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
  check_canary();
  std::error_code ec;
  fs::remove_all(dir + "/store", ec);
  fs::remove_all(dir + "/layer", ec);
  return 0;
}
