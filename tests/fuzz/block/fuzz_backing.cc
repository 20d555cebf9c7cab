// Fuzz target: backing-chain resolution on hostile headers. The input holds up to four files
// (each a 2-byte little-endian length and its bytes), written as img/f0, img/f1, img/sub/s0 and
// img/sub/s1 of a scratch folder that also has a secret beside img/ (../secret.raw) and a
// symbolic link to it inside (img/link.raw). img/f0 is opened as qcow2 under each policy that
// hostile images meet: Inside (vesseld's import), Listed with img/f1 and img/sub/s0 (vessel-vmm),
// Refuse. Errors are fine; what must hold is which files get opened: after each successful open
// every file the process has open must be one the policy allows (read from /proc/self/fd).
// The names are never followed with qemu-img's rule here: any host path (a FIFO, /dev/stdin)
// could be named, and following them is that rule's point.
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "base/fd.h"
#include "block/image.h"

using namespace vessel::block;

namespace {

struct Scratch {
  std::string base, img;
  Scratch() {
    char tmpl[] = "/tmp/vessel-fuzz-backing-XXXXXX";
    if (!::mkdtemp(tmpl)) abort();
    char real[PATH_MAX];
    if (!::realpath(tmpl, real)) abort();
    base = real;
    img = base + "/img";
    ::mkdir(img.c_str(), 0700);
    ::mkdir((img + "/sub").c_str(), 0700);
    std::string secret(1 << 16, 'S');
    (void)vessel::write_file(base + "/secret.raw", secret);
    (void)::symlink("../secret.raw", (img + "/link.raw").c_str());
  }
  ~Scratch() { std::filesystem::remove_all(base); }
};

const Scratch& scratch() {
  static Scratch s;
  return s;
}

// Every regular file this process has open, by real path.
std::set<std::string> open_files() {
  std::set<std::string> out;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) abort();
  while (dirent* e = ::readdir(d)) {
    std::string link = std::string("/proc/self/fd/") + e->d_name;
    char target[PATH_MAX];
    ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = 0;
    struct stat st {};
    if (::stat(link.c_str(), &st) == 0 && S_ISREG(st.st_mode)) out.insert(target);
  }
  ::closedir(d);
  return out;
}

void check_opened(const std::set<std::string>& before, const std::set<std::string>& allowed, const char* policy) {
  for (const auto& f : open_files()) {
    if (before.count(f) || allowed.count(f)) continue;
    fprintf(stderr, "fuzz_backing: policy %s opened %s\n", policy, f.c_str());
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Scratch& s = scratch();
  static const char* names[] = {"f0", "f1", "sub/s0", "sub/s1"};
  size_t p = 0;
  for (const char* name : names) {
    std::string path = s.img + "/" + name;
    ::unlink(path.c_str());
    if (p + 2 > size) continue;
    size_t len = std::min<size_t>(data[p] | size_t{data[p + 1]} << 8, size - p - 2);
    (void)vessel::write_file(path, std::string(reinterpret_cast<const char*>(data + p + 2), len));
    p += 2 + len;
  }
  const std::string f0 = s.img + "/f0";
  std::set<std::string> before = open_files();
  std::set<std::string> inside;
  for (const char* name : names) inside.insert(s.img + "/" + name);
  {
    OpenOptions o;
    o.read_only = true;
    o.lock = false;
    o.backing = BackingPolicy::Inside;
    auto img = open_image(f0, Format::Qcow2, o);
    if (img) check_opened(before, inside, "inside");
  }
  {
    OpenOptions o;
    o.read_only = true;
    o.lock = false;
    o.backing = BackingPolicy::Listed;
    o.allowed_backing = {s.img + "/f1", s.img + "/sub/../sub/s0"};
    o.probe_backing_format = false;
    auto img = open_image(f0, Format::Qcow2, o);
    if (img) check_opened(before, {f0, s.img + "/f1", s.img + "/sub/s0"}, "listed");
  }
  {
    OpenOptions o;
    o.read_only = true;
    o.lock = false;
    o.backing = BackingPolicy::Refuse;
    auto img = open_image(f0, Format::Qcow2, o);
    if (img) check_opened(before, {f0}, "refuse");
  }
  // The resolution alone, with the header's name as it is.
  for (BackingPolicy policy : {BackingPolicy::Inside, BackingPolicy::Refuse}) {
    OpenOptions o;
    o.backing = policy;
    std::string name(reinterpret_cast<const char*>(data), std::min<size_t>(size, 64));
    auto path = backing_path(f0, name, o);
    if (!path) continue;
    if (policy == BackingPolicy::Refuse) abort();
    char real[PATH_MAX];
    if (::realpath(path->c_str(), real) && std::string(real).rfind(s.img + "/", 0) != 0 && std::string(real) != s.img) {
      fprintf(stderr, "fuzz_backing: inside resolved '%s' to %s\n", name.c_str(), real);
      abort();
    }
  }
  return 0;
}
