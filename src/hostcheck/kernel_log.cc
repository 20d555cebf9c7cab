#include "hostcheck/kernel_log.h"

#include <fcntl.h>
#include <sys/klog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <sstream>

#include "base/fd.h"

namespace vessel::hostcheck {

namespace {

constexpr size_t kMaxLines = 2000;  // a log flooded with KVM errors must not grow without bound

bool mentions_kvm(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return lower.find("kvm") != std::string::npos || lower.find("pvm") != std::string::npos;
}

void keep(std::vector<std::string>& lines, std::string text) {
  if (!mentions_kvm(text)) return;
  if (lines.size() == kMaxLines)
    lines.erase(lines.begin() + kMaxLines / 2);  // keep the boot's lines
  lines.push_back(std::move(text));
}

// Each read() of /dev/kmsg returns one record; EAGAIN once the reader has caught up.
std::optional<std::vector<std::string>> read_kmsg() {
  int raw = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (raw < 0) return std::nullopt;
  Fd fd(raw);
  std::vector<std::string> lines;
  std::string record(8192, '\0');
  for (;;) {
    ssize_t n = ::read(fd.get(), record.data(), record.size());
    if (n > 0) {
      keep(lines, kernel_log_text(record.substr(0, static_cast<size_t>(n))));
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EPIPE)) continue;  // EPIPE: a record was overwritten
    if (n < 0 && errno != EAGAIN) return std::nullopt;
    return lines;
  }
}

std::optional<std::vector<std::string>> read_klogctl() {
  int size = ::klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, nullptr, 0);
  if (size <= 0) return std::nullopt;
  std::string buf(static_cast<size_t>(size), '\0');
  int n = ::klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf.data(), size);
  if (n < 0) return std::nullopt;
  buf.resize(static_cast<size_t>(n));
  std::vector<std::string> lines;
  std::istringstream in(buf);
  std::string line;
  while (std::getline(in, line)) keep(lines, kernel_log_text(line));
  return lines;
}

}  // namespace

std::string kernel_log_text(const std::string& record) {
  std::string text = record;
  if (auto semi = text.find(';'); !text.empty() &&
                                  std::isdigit(static_cast<unsigned char>(text[0])) &&
                                  semi != std::string::npos) {
    text = text.substr(semi + 1);
    if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);  // drop the dictionary
  } else {
    if (text.rfind('<', 0) == 0)
      if (auto gt = text.find('>'); gt != std::string::npos) text = text.substr(gt + 1);
    if (text.rfind('[', 0) == 0)
      if (auto close = text.find("] "); close != std::string::npos) text = text.substr(close + 2);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::optional<std::vector<std::string>> read_kvm_log_lines() {
  if (auto lines = read_kmsg()) return lines;
  return read_klogctl();
}

}  // namespace vessel::hostcheck
