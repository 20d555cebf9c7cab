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
#include "../escape_canary.h"

namespace {

namespace fs = std::filesystem;

const vessel::fuzz::EscapeCanary& canary() {
  static const vessel::fuzz::EscapeCanary c("/tmp/vessel-cp-fuzz-canary", "canary: a copied archive must never reach this file\n");
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  canary().plant();
  std::string root_dir = vessel::fuzz::work_dir("vessel-cp-fuzz") + "/root";
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
  canary().check("root");
  fs::remove_all(root_dir, ec);
  return 0;
}
