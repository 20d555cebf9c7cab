#include "base/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>
#include <string>

#include <gtest/gtest.h>

namespace vessel {
namespace {

class UnixSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vessel-sock-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(UnixSocket, ListenConnectAcceptAndSendAll) {
  std::string path = dir_ + "/s.sock";
  auto listener = unix_socket::listen(path, {.mode = 0640});
  ASSERT_TRUE(listener) << listener.error().to_string();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_TRUE(fcntl(listener->get(), F_GETFD) & FD_CLOEXEC);

  auto client = unix_socket::connect(path);
  ASSERT_TRUE(client) << client.error().to_string();
  Fd server(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(server);
  std::string big(1 << 20, 'x');  // larger than the socket buffer: send_all loops
  pid_t reader = fork();
  if (reader == 0) {
    std::string got(big.size(), '\0');
    _exit(read_exact(server.get(), got.data(), got.size()) && got == big ? 0 : 1);
  }
  ASSERT_TRUE(unix_socket::send_all(client->get(), big));
  int status = 0;
  ASSERT_EQ(waitpid(reader, &status, 0), reader);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(UnixSocket, ListenReplacesASocketButNotAFile) {
  std::string path = dir_ + "/s.sock";
  { ASSERT_TRUE(unix_socket::listen(path)); }
  EXPECT_TRUE(unix_socket::listen(path, {.backlog = 1, .nonblocking = true}));  // stale socket file replaced
  std::string file = dir_ + "/plain";
  ASSERT_TRUE(write_file(file, "keep"));
  auto r = unix_socket::listen(file);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EEXIST);
  EXPECT_EQ(*read_file(file), "keep");
}

// A second server on the path of a live one (a second vesseld with the same --socket) is refused,
// and the first one keeps serving.
TEST_F(UnixSocket, ListenRefusesASocketSomethingListensOn) {
  std::string path = dir_ + "/s.sock";
  auto live = unix_socket::listen(path);
  ASSERT_TRUE(live);
  auto second = unix_socket::listen(path);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().errnum(), EADDRINUSE);
  EXPECT_NE(second.error().to_string().find("in use"), std::string::npos) << second.error().to_string();
  auto client = unix_socket::connect(path);
  ASSERT_TRUE(client) << client.error().to_string();
  Fd server(accept4(live->get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(server);
}

TEST_F(UnixSocket, NonblockingListener) {
  auto listener = unix_socket::listen(dir_ + "/nb.sock", {.nonblocking = true});
  ASSERT_TRUE(listener);
  EXPECT_TRUE(fcntl(listener->get(), F_GETFL) & O_NONBLOCK);
  EXPECT_LT(accept(listener->get(), nullptr, nullptr), 0);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_F(UnixSocket, PathTooLongAndNobodyListening) {
  auto r = unix_socket::connect(dir_ + "/" + std::string(200, 'a'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), ENAMETOOLONG);
  auto c = unix_socket::connect(dir_ + "/missing.sock");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().errnum(), ENOENT);
  EXPECT_NE(c.error().to_string().find("missing.sock"), std::string::npos);
}

TEST_F(UnixSocket, SendAndReceiveAFileDescriptor) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Fd a(sv[0]), b(sv[1]);
  std::string file = dir_ + "/payload";
  ASSERT_TRUE(write_file(file, "through the socket"));
  auto f = Fd::open(file, O_RDONLY);
  ASSERT_TRUE(f);
  ASSERT_TRUE(unix_socket::send_fd(a.get(), f->get(), "name"));
  auto got = unix_socket::recv_fd(b.get());
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_NE(got->get(), f->get());
  EXPECT_TRUE(fcntl(got->get(), F_GETFD) & FD_CLOEXEC);
  char buf[32] = {};
  ASSERT_GT(pread(got->get(), buf, sizeof buf - 1, 0), 0);
  EXPECT_STREQ(buf, "through the socket");
}

TEST_F(UnixSocket, ReceiveWithoutAFileDescriptorIsAnError) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Fd a(sv[0]), b(sv[1]);
  ASSERT_TRUE(unix_socket::send_all(a.get(), "plain bytes"));
  auto got = unix_socket::recv_fd(b.get());
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errnum(), EPROTO);
}

// Sends `fds` in one SCM_RIGHTS message with `data` (the raw call: send_fd sends one).
void send_fds(int sock, const std::vector<int>& fds, std::string data) {
  iovec iov{data.data(), data.size()};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  ASSERT_GT(sendmsg(sock, &msg, 0), 0);
}

size_t open_fd_count() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST_F(UnixSocket, ReceiveSeveralFileDescriptorsWithTheirData) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Fd a(sv[0]), b(sv[1]);
  auto f1 = Fd::open("/dev/null", O_RDONLY), f2 = Fd::open("/dev/zero", O_RDONLY);
  ASSERT_TRUE(f1 && f2);
  send_fds(a.get(), {f1->get(), f2->get()}, "two");
  auto got = unix_socket::recv_with_fds(b.get(), 64, 4);
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(got->data, "two");
  ASSERT_EQ(got->fds.size(), 2u);
  char byte = 1;
  ASSERT_EQ(read(got->fds[1].get(), &byte, 1), 1);  // the second is /dev/zero
  EXPECT_EQ(byte, 0);
}

TEST_F(UnixSocket, MoreFileDescriptorsThanAskedForIsAnErrorAndLeaksNone) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Fd a(sv[0]), b(sv[1]);
  auto f = Fd::open("/dev/null", O_RDONLY);
  ASSERT_TRUE(f);
  size_t before = open_fd_count();
  send_fds(a.get(), {f->get(), f->get(), f->get()}, "x");
  auto got = unix_socket::recv_fd(b.get());
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errnum(), EPROTO);
  EXPECT_EQ(open_fd_count(), before);
}

TEST_F(UnixSocket, SendAllToAClosedPeerIsEpipeNotSigpipe) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Fd a(sv[0]);
  ::close(sv[1]);
  auto r = unix_socket::send_all(a.get(), "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EPIPE);
}

// The file appears only once the socket listens (bound under a temporary name, then renamed):
// nothing is left behind, and a path too long for the temporary name is bound in place.
TEST_F(UnixSocket, TheFileAppearsListeningAndNoTemporaryIsLeft) {
  std::string path = dir_ + "/s.sock";
  auto listener = unix_socket::listen(path);
  ASSERT_TRUE(listener) << listener.error().to_string();
  EXPECT_TRUE(unix_socket::connect(path));
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) entries += e.path().filename() == "s.sock" ? 0 : 1;
  EXPECT_EQ(entries, 0u) << "a temporary name was left";
  std::string longest = dir_ + "/" + std::string(107 - dir_.size() - 1, 'x');  // 107 bytes: the most sun_path holds
  auto in_place = unix_socket::listen(longest);
  ASSERT_TRUE(in_place) << in_place.error().to_string();
  EXPECT_TRUE(unix_socket::connect(longest));
}

}  // namespace
}  // namespace vessel
