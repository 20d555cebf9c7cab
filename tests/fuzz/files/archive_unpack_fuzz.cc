// Fuzz target: what `vessel cp` unpacks (files/tar_unpack.h): the tar a client PUTs into a
// container, the tar an instance sends back to the CLI. The first byte picks the options (bits
// 0-1: no rebase, "d" -> "x", "d" -> ""; bit 2: keep owners; bit 3: allow devices); the rest is
// the tar, which is also read as a path stat header (files/path_stat.h). Errors are fine;
// crashes, sanitizer reports and escapes are not: a canary outside the root, which the seeds'
// symlinks and hard links name, must survive every input.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/fd.h"
#include "files/path_stat.h"
#include "files/tar_unpack.h"

namespace {

namespace fs = std::filesystem;

constexpr const char* kCanaryDir = "/tmp/vessel-cp-fuzz-canary";
constexpr const char* kCanaryText = "canary: a copied archive must never reach this file\n";

std::string canary_file() { return std::string(kCanaryDir) + "/secret"; }

bool canary_intact() {
  auto text = vessel::read_file(canary_file());
  struct stat st;
  return text && *text == kCanaryText && ::lstat(canary_file().c_str(), &st) == 0 &&
         S_ISREG(st.st_mode) && st.st_nlink == 1;
}

void plant_canary() {
  if (canary_intact()) return;
  std::error_code ec;
  fs::remove_all(kCanaryDir, ec);
  fs::create_directories(kCanaryDir, ec);
  std::ofstream(canary_file()) << kCanaryText;
}

struct WorkDir {
  WorkDir() {
    char t[] = "/tmp/vessel-cp-fuzz.XXXXXX";
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
  std::string root_dir = work_dir() + "/root";
  std::error_code ec;
  fs::create_directories(root_dir + "/dest", ec);
  std::string_view tar(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)vessel::files::decode_path_stat(tar);
  vessel::files::UnpackOptions options;
  switch (data[0] & 3) {
    case 1:
      options.rebase = std::pair{std::string("d"), std::string("x")};
      break;
    case 2:
      options.rebase = std::pair{std::string("d"), std::string()};
      break;
    default:
      break;
  }
  options.keep_owner = data[0] & 4;
  options.allow_devices = data[0] & 8;
  options.chown = ::geteuid() == 0;
  options.max_entries = 4096;
  auto root = vessel::files::ConfinedRoot::open(root_dir);
  if (root) {
    auto in = vessel::files::open_tar_memory(tar);
    if (in) (void)vessel::files::unpack(*root, "dest", in->get(), options);
  }
  if (!canary_intact()) {
    std::fprintf(stderr, "an archive reached %s outside the root\n", canary_file().c_str());
    std::abort();
  }
  fs::remove_all(root_dir, ec);
  return 0;
}
