// relay_until_closed between two socket pairs: bytes both ways, the early bytes first, a's EOF
// passed on as b's half-close (b still answers), and b's end ending the relay.
#include "base/socket_relay.h"

#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "base/fd.h"
#include "base/unix_socket.h"

namespace vessel {
namespace {

struct Pair {
  Fd near, far;  // the relay holds `near`; the test talks through `far`
  Pair() {
    int s[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
    near = Fd(s[0]);
    far = Fd(s[1]);
  }
};

std::string read_until_eof(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(SocketRelay, BytesGoBothWaysAndAHalfCloseIsPassedOn) {
  Pair a, b;
  std::thread relay([&] { unix_socket::relay_until_closed(a.near.get(), b.near.get(), "early;"); });
  std::string big(1 << 20, 'x');  // more than the sockets buffer: the relay must keep up
  std::thread writer([&] {
    ASSERT_TRUE(unix_socket::send_all(a.far.get(), big));
    ::shutdown(a.far.get(), SHUT_WR);
  });
  EXPECT_EQ(read_until_eof(b.far.get()), "early;" + big) << "b sees a's bytes, then a's end";
  writer.join();
  // b answers after a is done writing, and ends: a gets the answer, and the relay returns.
  ASSERT_TRUE(unix_socket::send_all(b.far.get(), "done"));
  b.far = Fd();
  relay.join();
  a.near = Fd();
  EXPECT_EQ(read_until_eof(a.far.get()), "done");
}

TEST(SocketRelay, TheSecondSidesEndEndsIt) {
  Pair a, b;
  auto relay = std::async(std::launch::async, [&] { unix_socket::relay_until_closed(a.near.get(), b.near.get()); });
  b.far = Fd();  // a stays open and silent
  EXPECT_EQ(relay.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "it waited for a";
  ::shutdown(a.near.get(), SHUT_RDWR);  // (unblocks it, had it not returned)
}

}  // namespace
}  // namespace vessel
