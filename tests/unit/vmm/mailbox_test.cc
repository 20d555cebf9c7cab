// The mailbox threads in vessel-vmm talk through: a queue, an eventfd the owner polls, replies.
#include "vmm/mailbox.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <string>
#include <thread>
#include <vector>

namespace vessel::vmm {
namespace {

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

TEST(Mailbox, PostWakesTheOwnerAndServeHandsOverInOrder) {
  auto box = Mailbox<int>::create();
  ASSERT_TRUE(box);
  EXPECT_FALSE(readable((*box)->fd(), 0));
  EXPECT_TRUE((*box)->post(1));
  EXPECT_TRUE((*box)->post(2));
  EXPECT_TRUE(readable((*box)->fd(), 0));
  std::vector<int> seen;
  EXPECT_EQ((*box)->serve([&](int v) { seen.push_back(v); }), 2u);
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
  EXPECT_FALSE(readable((*box)->fd(), 0)) << "serve() consumes the wake-up";
  EXPECT_EQ((*box)->serve([&](int) { ADD_FAILURE(); }), 0u);
}

TEST(Mailbox, CallWaitsForTheOwnersReply) {
  auto made = Mailbox<std::string, size_t>::create();
  ASSERT_TRUE(made);
  auto& box = **made;
  std::thread owner([&] {
    size_t served = 0;
    while (served < 3) {
      ASSERT_TRUE(readable(box.fd(), 5000));
      served += box.serve([](std::string& s) { return s.size(); });
    }
  });
  EXPECT_EQ(box.call("a"), 1u);
  EXPECT_EQ(box.call("abc"), 3u);
  EXPECT_EQ(box.call(""), 0u);
  owner.join();
}

TEST(Mailbox, ManySendersAllGetTheirOwnAnswers) {
  auto made = Mailbox<int, int>::create();
  ASSERT_TRUE(made);
  auto& box = **made;
  constexpr int kSenders = 4, kEach = 200;
  std::thread owner([&] {
    for (int served = 0; served < kSenders * kEach;) {
      ASSERT_TRUE(readable(box.fd(), 5000));
      served += static_cast<int>(box.serve([](int v) { return v * 2; }));
    }
  });
  std::vector<std::thread> senders;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kSenders; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        if (box.call(t * 1000 + i) != 2 * (t * 1000 + i)) ++wrong;
    });
  for (auto& s : senders) s.join();
  owner.join();
  EXPECT_EQ(wrong, 0);
}

TEST(Mailbox, CloseAnswersWaitingAndLaterCallsWithNothing) {
  auto made = Mailbox<int, int>::create();
  ASSERT_TRUE(made);
  auto& box = **made;
  std::optional<int> waiting = 7;
  std::thread sender([&] { waiting = box.call(1); });
  ASSERT_TRUE(readable(box.fd(), 5000));  // the call is queued; the owner closes instead of serving
  box.close();
  sender.join();
  EXPECT_EQ(waiting, std::nullopt);
  EXPECT_TRUE(box.closed());
  EXPECT_EQ(box.call(2), std::nullopt);
  EXPECT_FALSE(box.post(3));
  EXPECT_TRUE(readable(box.fd(), 0)) << "close() wakes the owner";
  EXPECT_EQ(box.serve([](int) { return 0; }), 0u);
}

}  // namespace
}  // namespace vessel::vmm
