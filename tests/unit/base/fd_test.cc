#include "base/fd.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace vessel {
namespace {

TEST(Fd, ClosesOnDestructionAndMoves) {
  int raw;
  {
    auto fd = Fd::open("/dev/null", O_RDONLY);
    ASSERT_TRUE(fd);
    raw = fd->get();
    EXPECT_GE(fcntl(raw, F_GETFD), 0);
    EXPECT_TRUE(fcntl(raw, F_GETFD) & FD_CLOEXEC);
    Fd moved = std::move(*fd);
    EXPECT_FALSE(fd->valid());
    EXPECT_EQ(moved.get(), raw);
  }
  EXPECT_EQ(fcntl(raw, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(Fd, OpenMissingFileNamesThePath) {
  auto fd = Fd::open("/nonexistent/vessel", O_RDONLY);
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().errnum(), ENOENT);
  EXPECT_NE(fd.error().to_string().find("/nonexistent/vessel"), std::string::npos);
}

TEST(Fd, ReadWriteFileRoundTrip) {
  char tmpl[] = "/tmp/vessel-fd-XXXXXX";
  int raw = mkstemp(tmpl);
  ASSERT_GE(raw, 0);
  close(raw);
  ASSERT_TRUE(write_file(tmpl, std::string("hello\0world", 11)));
  auto back = read_file(tmpl);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, std::string("hello\0world", 11));
  auto fd = Fd::open(tmpl, O_RDWR);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(pwrite_all(fd->get(), "XY", 2, 3));
  char buf[5];
  ASSERT_TRUE(pread_exact(fd->get(), buf, 5, 0));
  EXPECT_EQ(std::string(buf, 5), "helXY");
  EXPECT_FALSE(pread_exact(fd->get(), buf, 5, 9));  // runs past the end
  unlink(tmpl);
}

TEST(Mmap, AnonymousIsWritableAndUnmapped) {
  uint8_t* p;
  {
    auto m = Mmap::anonymous(1 << 20, PROT_READ | PROT_WRITE);
    ASSERT_TRUE(m);
    p = m->data();
    p[0] = 1;
    p[(1 << 20) - 1] = 2;
    EXPECT_EQ(m->size(), 1u << 20);
  }
  // The range is gone: mincore reports ENOMEM for unmapped pages.
  unsigned char vec;
  EXPECT_EQ(mincore(p, 4096, &vec), -1);
}

TEST(EventFd, SignalAndConsume) {
  auto e = EventFd::create(0, EFD_NONBLOCK);
  ASSERT_TRUE(e);
  EXPECT_EQ(*e->consume(), 0u);
  ASSERT_TRUE(e->signal(2));
  ASSERT_TRUE(e->signal(3));
  EXPECT_EQ(*e->consume(), 5u);
  EXPECT_EQ(*e->consume(), 0u);
}

}  // namespace
}  // namespace vessel
