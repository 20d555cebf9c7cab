// copy-in and copy-out of one regular file: the bytes go in data frames, an empty frame ends them.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "agent/handlers.h"

namespace vessel::agent {

void run_copy_in(Channel& ch, const CopyInRequest& req) {
  // Written beside the target and renamed over it: a broken transfer leaves the old file.
  std::string tmp = req.path + ".vessel-partial";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    ch.send_control(error_reply("open " + tmp + ": " + std::strerror(errno)));
    return;
  }
  ch.send_control(ok_reply());
  uint64_t total = 0;
  std::string error;
  for (;;) {
    auto f = ch.read_frame();
    if (!f) {
      error = "the host went away before the end of the file";
      break;
    }
    if (f->kind != FrameKind::Data || f->stream != uint8_t(Stream::Stdin)) {
      error = "expected data frames of stream 0";
      break;
    }
    if (f->payload.empty()) break;
    size_t off = 0;
    while (off < f->payload.size() && error.empty()) {
      ssize_t n = ::write(fd, f->payload.data() + off, f->payload.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) error = std::string("write: ") + std::strerror(errno);
      else off += size_t(n);
    }
    if (!error.empty()) break;
    total += f->payload.size();
  }
  if (error.empty() && (::fchmod(fd, req.mode) != 0 || ::fsync(fd) != 0)) error = std::strerror(errno);
  ::close(fd);
  if (error.empty() && ::rename(tmp.c_str(), req.path.c_str()) != 0) error = "rename: " + std::string(std::strerror(errno));
  if (!error.empty()) {
    ::unlink(tmp.c_str());
    ch.send_control(error_reply(error));
    return;
  }
  ch.send_control(ok_reply({{"bytes", total}}));
}

void run_copy_out(Channel& ch, const CopyOutRequest& req) {
  int fd = ::open(req.path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ch.send_control(error_reply(req.path + ": " + (fd < 0 ? std::strerror(errno) : "not a regular file")));
    if (fd >= 0) ::close(fd);
    return;
  }
  ch.send_control(ok_reply({{"size", uint64_t(st.st_size)}, {"mode", uint32_t(st.st_mode & 07777)}}));
  char buf[32768];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!ch.send_data(Stream::Stdout, {buf, size_t(n)})) break;
  }
  ::close(fd);
  ch.send_data(Stream::Stdout, {});
}

}  // namespace vessel::agent
