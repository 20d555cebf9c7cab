// Without libFuzzer (gcc builds), each fuzz target is linked with this driver: it replays the
// files (or every file in the folders) named on the command line, so that the corpus runs as a
// regression test under ctest.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static int replay(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return 1;
}

// A path that is missing, unreadable or an empty folder fails the run: a corpus that moved or
// was never checked in must not pass as "replayed nothing".
int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 1;
  }
  int count = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    std::error_code ec;
    int here = 0;
    if (std::filesystem::is_directory(p, ec)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p, ec))
        if (e.is_regular_file()) here += replay(e.path());
    } else if (std::filesystem::is_regular_file(p, ec)) {
      here = replay(p);
    }
    if (here == 0) {
      std::fprintf(stderr, "%s: no corpus here (missing, not readable or empty)\n", argv[i]);
      return 1;
    }
    count += here;
  }
  std::printf("replayed %d inputs\n", count);
  return 0;
}
