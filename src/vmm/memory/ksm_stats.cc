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
  Fd merging(::open("/proc/self/ksm_merging_pages", O_RDONLY | O_CLOEXEC));
  if (!merging) return std::nullopt;
  return KsmStats(std::move(merging), Fd(::open("/proc/self/ksm_stat", O_RDONLY | O_CLOEXEC)));
}

namespace {

// Reads an open /proc file again from its start (a seq_file: rewinding regenerates it).
Result<std::string> reread(int fd) {
  if (::lseek(fd, 0, SEEK_SET) < 0) return fail_errno("rewind the KSM counters");
  char buf[512];
  ssize_t n;
  do n = ::read(fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n < 0) return fail_errno("read the KSM counters");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

Result<KsmCounts> KsmStats::read() const {
  KsmCounts c;
  if (stat_) c = parse_ksm_stat(TRY(reread(stat_.get())));
  c.merging_pages = number<uint64_t>(TRY(reread(merging_.get())));
  return c;
}

}  // namespace vessel::vmm
