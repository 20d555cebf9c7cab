// Crash test: a child writes, zeroes and flushes in a loop on a qcow2 image and is SIGKILLed at a
// random moment; after every kill `qemu-img check` must exit 0 (clean) or 3 (leaks only), and
// every write acknowledged before a completed flush must read back. The child then continues on
// the same image, so later rounds start from crashed states. VESSEL_CRASH_KILLS sets the number
// of kills (default 200).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "block/block_backend.h"
#include "block/qcow2_create.h"
#include "sh.h"
#include "../../unit/block/test_util.h"

namespace vessel::block {
namespace {

using test::sh;
using test::TempDir;

constexpr uint64_t kDisk = 8u << 20;
constexpr uint64_t kSector = 512;
constexpr int64_t kUnknown = -2;  // content depends on whether an unflushed write landed
constexpr int64_t kNever = -1;    // never written: zeros

struct DiskOp {
  bool zero;
  uint64_t offset, length;
};

DiskOp op_for(uint64_t seed, int64_t seq) {
  std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(seq));
  DiskOp o;
  o.zero = rng() % 8 == 0;
  o.offset = (rng() % (kDisk / kSector)) * kSector;
  o.length = std::min<uint64_t>(kDisk - o.offset, (1 + rng() % 64) * kSector * (rng() % 4 == 0 ? 16 : 1));
  return o;
}

void fill_sector(uint8_t* p, int64_t seq, uint64_t sector) {
  memset(p, static_cast<int>(seq & 0xff) | 1, kSector);
  memcpy(p, &seq, 8);
  memcpy(p + 8, &sector, 8);
}

// Messages from the child: {seq, 0} "starting op seq", {seq, 1} "flushed after op seq".
struct Msg {
  int64_t seq;
  int64_t kind;
};

[[noreturn]] void child(const std::string& path, uint64_t seed, int64_t first_seq, int fd) {
  auto img = open_backend(path, Format::Qcow2, {});
  if (!img) {
    fprintf(stderr, "child: %s\n", img.error().to_string().c_str());
    _exit(2);
  }
  std::mt19937_64 rng(seed ^ static_cast<uint64_t>(first_seq));
  std::vector<uint8_t> buf;
  for (int64_t seq = first_seq;; ++seq) {
    Msg m{seq, 0};
    if (write(fd, &m, sizeof m) != sizeof m) _exit(3);
    DiskOp o = op_for(seed, seq);
    if (o.zero) {
      if (!(*img)->discard(o.offset, o.length, true)) _exit(4);
    } else {
      buf.resize(o.length);
      for (uint64_t s = 0; s < o.length / kSector; ++s) fill_sector(&buf[s * kSector], seq, o.offset / kSector + s);
      iovec v{buf.data(), buf.size()};
      if (!(*img)->writev(o.offset, {&v, 1})) _exit(5);
    }
    if (rng() % 4 == 0) {
      if (!(*img)->flush()) _exit(6);
      Msg f{seq, 1};
      if (write(fd, &f, sizeof f) != sizeof f) _exit(3);
    }
  }
}

int kills_from_env() {
  const char* e = getenv("VESSEL_CRASH_KILLS");
  int n = e ? atoi(e) : 200;
  return n > 0 ? n : 200;
}

void run_crash_rounds(const std::string& opts, uint32_t cluster_bits, uint32_t refcount_order, int kills) {
  TempDir dir;
  std::string path = dir.file("crash.qcow2");
  ASSERT_TRUE(qcow2::create(path, {kDisk, cluster_bits, 3, refcount_order, qcow2::Compression::Zlib, "", ""}));
  const uint64_t seed = 12345 + cluster_bits;
  std::vector<int64_t> state(kDisk / kSector, kNever);  // what each sector must hold
  std::mt19937_64 rng(seed);
  int64_t next_seq = 0;
  int leaky = 0;
  for (int round = 0; round < kills; ++round) {
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(pipefd[0]);
      child(path, seed, next_seq, pipefd[1]);
    }
    close(pipefd[1]);
    usleep(static_cast<useconds_t>(500 + rng() % 40000));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status) << " in round " << round;
    int64_t started = next_seq - 1, flushed = -1;
    Msg m;
    while (read(pipefd[0], &m, sizeof m) == sizeof m) {
      if (m.kind == 0) started = m.seq;
      else flushed = m.seq;
    }
    close(pipefd[0]);
    // Ops up to `flushed` are durable; ops in (flushed, started] may or may not have landed.
    for (int64_t seq = next_seq; seq <= started; ++seq) {
      DiskOp o = op_for(seed, seq);
      int64_t v = seq <= flushed ? (o.zero ? kNever : seq) : kUnknown;
      for (uint64_t s = o.offset / kSector; s < (o.offset + o.length) / kSector; ++s) state[s] = v;
    }
    next_seq = started + 1;

    auto check = sh("qemu-img check -q " + path);
    ASSERT_TRUE(check.code == 0 || check.code == 3) << "round " << round << " exit " << check.code << "\n" << check.out;
    leaky += check.code == 3;
    auto img = open_backend(path, Format::Qcow2, {.read_only = true});
    ASSERT_TRUE(img) << img.error().to_string();
    std::vector<uint8_t> disk(kDisk), want(kSector);
    iovec v{disk.data(), disk.size()};
    ASSERT_TRUE((*img)->readv(0, {&v, 1}));
    for (uint64_t s = 0; s < state.size(); ++s) {
      if (state[s] == kUnknown) continue;
      if (state[s] == kNever) memset(want.data(), 0, kSector);
      else fill_sector(want.data(), state[s], s);
      ASSERT_EQ(0, memcmp(&disk[s * kSector], want.data(), kSector))
          << "round " << round << ": sector " << s << " lost flushed op " << state[s];
    }
  }
  // Leaks are allowed, corruption is not; say how often a crash leaked.
  ::testing::Test::RecordProperty("leaky_rounds", leaky);
  printf("%s: %d kills, %d left leaks, %lld ops\n", opts.c_str(), kills, leaky, static_cast<long long>(next_seq));
}

TEST(Crash, KilledWritersLeaveCleanOrLeakyImagesWithFlushedData64K) {
  run_crash_rounds("cluster_size=64K", 16, 4, kills_from_env() / 2);
}

TEST(Crash, KilledWritersLeaveCleanOrLeakyImagesWithFlushedData512) {
  // 512-byte clusters with 8-bit refcounts: refcount blocks and the refcount table grow often.
  run_crash_rounds("cluster_size=512,refcount_bits=8", 9, 3, kills_from_env() / 2);
}

}  // namespace
}  // namespace vessel::block
