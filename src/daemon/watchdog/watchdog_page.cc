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

void Page::publish(const std::vector<WatchedProcess>& processes, int64_t kill_after_ns) {
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
  std::atomic_thread_fence(std::memory_order_acquire);
  if (page.sequence.load(std::memory_order_relaxed) != before) return false;
  out = std::move(s);
  return true;
}

}  // namespace vessel::daemon::watchdog
