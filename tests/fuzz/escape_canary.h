// For fuzz targets that write files from hostile input (archives, layers): a canary file outside
// the target's root, which the seeds' symlinks and hard links name, checked after every input;
// and a work directory of the process's own, removed at exit.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/fd.h"

namespace vessel::fuzz {

class EscapeCanary {
 public:
  EscapeCanary(std::string dir, std::string text) : dir_(std::move(dir)), text_(std::move(text)) {}
  std::string file() const { return dir_ + "/secret"; }

  // Fresh for each input (whatever an earlier, crashed run left there).
  void plant() const {
    if (intact()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    std::filesystem::create_directories(dir_, ec);
    std::ofstream(file()) << text_;
  }
  // Aborts (the fuzzer's finding) when an input reached it.
  void check(const char* outside_what) const {
    if (intact()) return;
    std::fprintf(stderr, "an archive reached %s outside the %s\n", file().c_str(), outside_what);
    std::abort();
  }

 private:
  bool intact() const {
    auto text = read_file(file());
    struct stat st;
    return text && *text == text_ && ::lstat(file().c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           st.st_nlink == 1;
  }
  std::string dir_, text_;
};

// "/tmp/<prefix>.XXXXXX", made once per process and removed at exit.
inline const std::string& work_dir(const char* prefix) {
  struct Dir {
    explicit Dir(const char* prefix) {
      std::string t = std::string("/tmp/") + prefix + ".XXXXXX";
      if (!::mkdtemp(t.data())) std::abort();
      path = t;
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
    std::string path;
  };
  static const Dir dir(prefix);
  return dir.path;
}

}  // namespace vessel::fuzz
