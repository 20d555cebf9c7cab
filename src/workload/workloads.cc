// cpu, mem, syscall and file; net is in loopback_tcp.cc.
#include "workload/workloads.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>

#include "workload/timer.h"

namespace vessel::workload {

namespace {

constexpr size_t kMemBuffer = 32u << 20;
constexpr size_t kFileSize = 4u << 20;
constexpr size_t kFileBlock = 64u << 10;

// The amount at scale 1, chosen so that each takes a few tenths of a second on a 2020s x86 core.
struct Spec {
  const char* name;
  uint64_t amount;
  const char* what;
};
constexpr Spec kSpecs[] = {
    {"cpu", 100'000'000, "xorshift64* rounds in registers (100 M)"},
    {"mem", 128, "memcpy of a 32 MiB buffer, 128 times (4 GiB copied)"},
    {"syscall", 500'000, "getppid(2) calls (500 k)"},
    {"file", 128, "4 MiB files in --dir: written in 64 KiB blocks, read back, unlinked (128 files)"},
    {"net", 512, "MiB sent over TCP on 127.0.0.1 from a child process (512 MiB)"},
};

uint64_t scaled(uint64_t amount, double scale) {
  double n = std::llround(static_cast<double>(amount) * scale);
  return n < 1 ? 1 : static_cast<uint64_t>(n);
}

// Writes `size` bytes to fd, restarting on short writes.
bool write_all(int fd, const char* data, size_t size) {
  while (size) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

const std::vector<std::string>& names() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> v;
    for (const auto& s : kSpecs) v.emplace_back(s.name);
    return v;
  }();
  return all;
}

std::string describe() {
  std::string text;
  for (const auto& s : kSpecs)
    text += std::string("  ") + s.name + std::string(9 - std::strlen(s.name), ' ') + s.what + "\n";
  return text;
}

Result run(const std::string& name, const Options& o) {
  if (!(o.scale > 0 && o.scale <= 1000))
    return tl::unexpected(std::string("the scale must be in (0, 1000]"));
  for (const auto& s : kSpecs) {
    if (name != s.name) continue;
    uint64_t n = scaled(s.amount, o.scale);
    if (name == "cpu") return cpu_loop(n);
    if (name == "mem") return memory_copy(n);
    if (name == "syscall") return syscall_loop(n);
    if (name == "file") return file_io(n, o.dir);
    return loopback_tcp(n);
  }
  return tl::unexpected("no workload named '" + name + "' (cpu, mem, syscall, file, net)");
}

Result cpu_loop(uint64_t iterations) {
  uint64_t x = 0x9E3779B97F4A7C15ull, acc = 0;
  double start = now_seconds();
  // Each round depends on the last: the compiler cannot fold or vectorise the chain.
  for (uint64_t i = 0; i < iterations; ++i) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    acc += x * 0x2545F4914F6CDD1Dull;
  }
  double seconds = now_seconds() - start;
  return Outcome{"cpu", static_cast<double>(iterations), "iterations", seconds, acc ^ x};
}

Result memory_copy(uint64_t copies) {
  constexpr size_t words = kMemBuffer / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> src(new (std::nothrow) uint64_t[words]),
      dst(new (std::nothrow) uint64_t[words]);
  if (!src || !dst) return tl::unexpected(std::string("cannot allocate 2 x 32 MiB"));
  // Touched before timing: the copies measure bandwidth, not first-touch page faults.
  for (size_t i = 0; i < words; ++i) src[i] = i * 0x9E3779B97F4A7C15ull;
  std::memset(dst.get(), 0, kMemBuffer);
  uint64_t acc = 0;
  double start = now_seconds();
  for (uint64_t k = 0; k < copies; ++k) {
    src[k % words] ^= k;  // each copy differs, so none can be skipped
    std::memcpy(dst.get(), src.get(), kMemBuffer);
    acc += dst[(k * 4099) % words];
  }
  double seconds = now_seconds() - start;
  return Outcome{"mem", static_cast<double>(copies * (kMemBuffer >> 20)), "MiB", seconds, acc};
}

Result syscall_loop(uint64_t calls) {
  uint64_t ok = 0;
  double start = now_seconds();
  for (uint64_t i = 0; i < calls; ++i) ok += ::syscall(SYS_getppid) >= 0;
  double seconds = now_seconds() - start;
  if (ok != calls) return tl::unexpected(errno_text("getppid"));
  return Outcome{"syscall", static_cast<double>(calls), "calls", seconds, ok};
}

Result file_io(uint64_t files, const std::string& dir) {
  std::unique_ptr<char[]> block(new char[kFileBlock]), back(new char[kFileBlock]);
  for (size_t i = 0; i < kFileBlock; ++i) block[i] = static_cast<char>(i * 31 + 7);
  std::string base = dir + "/vessel-workload." + std::to_string(::getpid()) + ".";
  uint64_t acc = 0;
  double start = now_seconds();
  for (uint64_t f = 0; f < files; ++f) {
    std::string path = base + std::to_string(f);
    int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return tl::unexpected(errno_text("create " + path));
    for (size_t off = 0; off < kFileSize; off += kFileBlock) {
      std::memcpy(block.get(), &off, sizeof off);  // every block differs
      if (!write_all(fd, block.get(), kFileBlock)) {
        std::string e = errno_text("write " + path);
        ::close(fd);
        ::unlink(path.c_str());
        return tl::unexpected(e);
      }
    }
    ::close(fd);
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tl::unexpected(errno_text("open " + path));
    uint64_t got = 0;
    for (;;) {
      ssize_t n = ::read(fd, back.get(), kFileBlock);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        std::string e = errno_text("read " + path);
        ::close(fd);
        ::unlink(path.c_str());
        return tl::unexpected(e);
      }
      if (n == 0) break;
      uint64_t first;
      std::memcpy(&first, back.get(), sizeof first);
      acc = acc * 31 + first + static_cast<unsigned char>(back[static_cast<size_t>(n) - 1]);
      got += static_cast<uint64_t>(n);
    }
    ::close(fd);
    if (::unlink(path.c_str()) != 0) return tl::unexpected(errno_text("unlink " + path));
    if (got != kFileSize)
      return tl::unexpected(path + ": read back " + std::to_string(got) + " bytes of " +
                            std::to_string(kFileSize));
  }
  double seconds = now_seconds() - start;
  return Outcome{"file", static_cast<double>(files * 2 * (kFileSize >> 20)), "MiB", seconds, acc};
}

}  // namespace vessel::workload
