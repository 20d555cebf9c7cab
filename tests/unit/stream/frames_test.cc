// The exec stream's framing: round trips, split delivery, and a hostile peer.
#include <gtest/gtest.h>

#include "stream/frames.h"

namespace vessel::frames {
namespace {

TEST(Frames, RoundTripInPiecesOfOneByte) {
  std::string wire = encode(Type::Stdout, "hello") + encode(Type::StdinEof, "") + encode_resize(40, 120) +
                     encode(Type::Exit, "3");
  Reader r;
  std::vector<Frame> got;
  for (char c : wire) {
    r.append(std::string_view(&c, 1));
    while (auto f = r.next()) got.push_back(*f);
  }
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].type, Type::Stdout);
  EXPECT_EQ(got[0].payload, "hello");
  EXPECT_EQ(got[1].type, Type::StdinEof);
  EXPECT_EQ(got[1].payload, "");
  uint16_t rows = 0, cols = 0;
  ASSERT_TRUE(decode_resize(got[2].payload, rows, cols));
  EXPECT_EQ(rows, 40);
  EXPECT_EQ(cols, 120);
  EXPECT_EQ(got[3].type, Type::Exit);
  EXPECT_EQ(got[3].payload, "3");
  EXPECT_FALSE(r.error());
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(Frames, OversizedLengthAndUnknownTypeAreErrors) {
  Reader big;
  big.append(std::string("\x00\x7f\xff\xff\xff", 5));
  EXPECT_FALSE(big.next().has_value());
  EXPECT_TRUE(big.error());
  Reader unknown;
  unknown.append(std::string("\x09\x00\x00\x00\x00", 5));
  EXPECT_FALSE(unknown.next().has_value());
  EXPECT_TRUE(unknown.error());
  // The largest allowed payload passes.
  Reader max;
  max.append(encode(Type::Stdin, std::string(kMaxFramePayload, 'x')));
  auto f = max.next();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->payload.size(), kMaxFramePayload);
}

TEST(Frames, ResizeNeedsFourBytes) {
  uint16_t r, c;
  EXPECT_FALSE(decode_resize("abc", r, c));
  EXPECT_FALSE(decode_resize("abcde", r, c));
}

}  // namespace
}  // namespace vessel::daemon::frames
