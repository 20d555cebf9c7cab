#include "daemon/watchdog/watchdog_page.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

namespace vessel::daemon::watchdog {

static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<int64_t>::is_always_lock_free,
              "the page is shared between processes: its atomics must be lock-free");

Result<Page> Page::create() {
  Fd fd(::memfd_create("vessel-watchdog", MFD_CLOEXEC));
  if (!fd) return fail_errno("memfd_create");
  if (::ftruncate(fd.get(), sizeof(PageLayout)) < 0) return fail_errno("ftruncate the watchdog page");
  auto map = TRY(Mmap::map(fd.get(), sizeof(PageLayout), PROT_READ | PROT_WRITE, MAP_SHARED));
  return Page(std::move(fd), std::move(map));  // a new memfd reads as zeros: sequence 0, nothing armed
}

Result<Page> Page::open(int fd) {
  auto map = TRY(Mmap::map(fd, sizeof(PageLayout), PROT_READ, MAP_SHARED));
  return Page(Fd(), std::move(map));
}

namespace {
constexpr uint32_t kWords = (kMaxCgroupPath + 1) / 8;
static_assert((kMaxCgroupPath + 1) % 8 == 0, "a cgroup slot is whole words");

void store_path(PageLayout::CgroupSlot& slot, const std::string& path) {
  for (uint32_t w = 0; w < kWords; ++w) {
    uint64_t word = 0;
    for (uint32_t b = 0; b < 8; ++b) {
      size_t at = size_t{w} * 8 + b;
      if (at < path.size()) word |= uint64_t{static_cast<unsigned char>(path[at])} << (8 * b);
    }
    slot.words[w].store(word, std::memory_order_relaxed);
    if (size_t{w} * 8 + 8 > path.size()) break;  // this word holds the NUL
  }
}

std::string load_path(const PageLayout::CgroupSlot& slot) {
  std::string path;
  for (uint32_t w = 0; w < kWords; ++w) {
    uint64_t word = slot.words[w].load(std::memory_order_relaxed);
    for (uint32_t b = 0; b < 8; ++b) {
      char c = static_cast<char>((word >> (8 * b)) & 0xff);
      if (c == '\0') return path;
      path.push_back(c);
    }
  }
  return path;  // no NUL: a torn read, which the sequence check discards
}
}  // namespace

void Page::publish(const std::vector<WatchedProcess>& processes, const std::vector<std::string>& cgroups,
                   int64_t kill_after_ns) {
  auto& page = layout();
  uint64_t sequence = page.sequence.load(std::memory_order_relaxed);
  page.sequence.store(sequence + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  uint32_t count = static_cast<uint32_t>(std::min<size_t>(processes.size(), kMaxWatched));
  for (uint32_t i = 0; i < count; ++i) {
    page.slots[i].pid.store(processes[i].pid, std::memory_order_relaxed);
    page.slots[i].start_time.store(processes[i].start_time, std::memory_order_relaxed);
  }
  page.count.store(count, std::memory_order_relaxed);
  uint32_t written = 0;
  for (const auto& path : cgroups) {
    if (written == kMaxCgroups) break;
    if (path.empty() || path.size() > kMaxCgroupPath) continue;
    store_path(page.cgroups[written++], path);
  }
  page.cgroup_count.store(written, std::memory_order_relaxed);
  page.kill_after_ns.store(kill_after_ns, std::memory_order_relaxed);
  page.sequence.store(sequence + 2, std::memory_order_release);
}

bool Page::read(Snapshot& out) const {
  const auto& page = layout();
  uint64_t before = page.sequence.load(std::memory_order_acquire);
  if (before % 2 == 1 || before == out.sequence) return false;
  Snapshot s;
  s.sequence = before;
  s.kill_after_ns = page.kill_after_ns.load(std::memory_order_relaxed);
  uint32_t count = std::min(page.count.load(std::memory_order_relaxed), kMaxWatched);
  for (uint32_t i = 0; i < count; ++i)
    s.processes.push_back({page.slots[i].pid.load(std::memory_order_relaxed),
                           page.slots[i].start_time.load(std::memory_order_relaxed)});
  uint32_t cgroups = std::min(page.cgroup_count.load(std::memory_order_relaxed), kMaxCgroups);
  for (uint32_t i = 0; i < cgroups; ++i) s.cgroups.push_back(load_path(page.cgroups[i]));
  std::atomic_thread_fence(std::memory_order_acquire);
  if (page.sequence.load(std::memory_order_relaxed) != before) return false;
  out = std::move(s);
  return true;
}

}  // namespace vessel::daemon::watchdog
