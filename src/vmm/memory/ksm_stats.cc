#include "vmm/memory/ksm_stats.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>

namespace vessel::vmm {
namespace {

template <typename T>
T number(std::string_view s) {
  T v = 0;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

KsmCounts parse_ksm_stat(std::string_view text) {
  KsmCounts c;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    size_t space = line.find(' ');
    if (space == std::string_view::npos) continue;
    std::string_view key = line.substr(0, space), value = line.substr(space + 1);
    if (key == "ksm_merging_pages") c.merging_pages = number<uint64_t>(value);
    else if (key == "ksm_zero_pages") c.zero_pages = number<uint64_t>(value);
    else if (key == "ksm_rmap_items") c.rmap_items = number<uint64_t>(value);
    else if (key == "ksm_process_profit") c.process_profit = number<int64_t>(value);
  }
  return c;
}

std::optional<KsmStats> KsmStats::open() {
  if (int fd = ::open("/proc/self/ksm_stat", O_RDONLY | O_CLOEXEC); fd >= 0) return KsmStats(Fd(fd), true);
  if (int fd = ::open("/proc/self/ksm_merging_pages", O_RDONLY | O_CLOEXEC); fd >= 0) return KsmStats(Fd(fd), false);
  return std::nullopt;
}

Result<KsmCounts> KsmStats::read() const {
  if (::lseek(fd_.get(), 0, SEEK_SET) < 0) return fail_errno("rewind the KSM counters");
  char buf[512];
  ssize_t n;
  do n = ::read(fd_.get(), buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  if (n < 0) return fail_errno("read the KSM counters");
  std::string_view text(buf, static_cast<size_t>(n));
  if (full_) return parse_ksm_stat(text);
  KsmCounts c;
  c.merging_pages = number<uint64_t>(text);
  return c;
}

}  // namespace vessel::vmm
