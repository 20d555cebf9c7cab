// The rotating log writer (base/rotating_log.h): the cap holds at every rotation boundary, lines
// are kept whole when they fit, a reopened writer carries on (and obeys a lower limit), and a
// reader holding the old file sees a new inode after a rotation.
#include "base/rotating_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace vessel {
namespace {

struct Dir {
  Dir() {
    char t[] = "/tmp/rotlog-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~Dir() { std::filesystem::remove_all(path); }
  std::string path;
};

uint64_t size_of(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

uint64_t total(const std::string& path, unsigned n = kMaxLogFiles) {
  uint64_t sum = 0;
  for (const auto& f : log_files(path, n)) sum += size_of(f);
  return sum;
}

std::string all(const std::string& path) {
  std::string out;
  for (const auto& f : log_files(path)) out += read_file(f).value();
  return out;
}

TEST(RotatingLog, CapHoldsAtEveryBoundaryAndTheNewestBytesAreKept) {
  Dir d;
  std::string path = d.path + "/console.log";
  auto log = RotatingLog::open(path, {4096, 3});
  ASSERT_TRUE(log) << log.error().to_string();
  std::string expect;
  for (int i = 0; i < 5000; ++i) {  // ~ 60 KiB of numbered lines, in odd-sized writes
    std::string line = fmt::format("line {:05}\n", i);
    ASSERT_TRUE(log->write(line));
    expect += line;
    ASSERT_LE(log->current_size(), 4096u);
    ASSERT_LE(total(path), 3u * 4096);
  }
  auto files = log_files(path);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0], path + ".2");
  EXPECT_EQ(files[2], path);
  EXPECT_FALSE(std::filesystem::exists(path + ".3"));
  std::string kept = all(path);
  // Whole lines only (each file ends at a newline), and they are the newest ones, in order.
  EXPECT_EQ(kept.front(), 'l');
  EXPECT_EQ(expect.substr(expect.size() - kept.size()), kept);
  EXPECT_NE(kept.find("line 04999\n"), std::string::npos);
  for (const auto& f : files) EXPECT_EQ(read_file(f).value().back(), '\n') << f;
}

TEST(RotatingLog, AChunkLargerThanTheCapIsSplitAndALineWithoutEndFillsTheFile) {
  Dir d;
  std::string path = d.path + "/out.log";
  auto log = RotatingLog::open(path, {4096, 2});
  ASSERT_TRUE(log);
  std::string big(10000, 'x');
  ASSERT_TRUE(log->write(big));
  EXPECT_LE(size_of(path), 4096u);
  EXPECT_EQ(size_of(path + ".1"), 4096u);
  EXPECT_EQ(total(path), 10000u - 4096u);  // the first 4096 bytes were rotated out
  EXPECT_EQ(all(path), big.substr(4096));
}

TEST(RotatingLog, ALineWrittenInPiecesStaysWholeWhenItFitsAndIsSplitOnlyWhenItMust) {
  Dir d;
  std::string path = d.path + "/pieces.log";
  auto log = RotatingLog::open(path, {4096, 3});
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->write(std::string(4089, 'a') + "\n"));  // 6 bytes left
  // A new line that does not fit what is left starts the next file, though it comes in pieces.
  ASSERT_TRUE(log->write("bbbbbbbb"));
  ASSERT_TRUE(log->write("bb\n"));
  EXPECT_EQ(read_file(path + ".1").value(), std::string(4089, 'a') + "\n");
  EXPECT_EQ(read_file(path).value(), "bbbbbbbbbb\n");
  // A line already begun in this file that then outgrows it is split at the cap: its beginning
  // cannot move.
  ASSERT_TRUE(log->write(std::string(4080, 'c')));
  ASSERT_TRUE(log->write(std::string(20, 'c') + "\n"));
  EXPECT_EQ(size_of(path + ".1"), 4096u);
  EXPECT_EQ(read_file(path).value(), std::string(15, 'c') + "\n");  // 5 of the 20 went into the full file
  EXPECT_EQ(all(path), std::string(4089, 'a') + "\n" + "bbbbbbbbbb\n" + std::string(4100, 'c') + "\n");
}

TEST(RotatingLog, OneFileStartsOverWithANewInode) {
  Dir d;
  std::string path = d.path + "/one.log";
  auto log = RotatingLog::open(path, {4096, 1});
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->write(std::string(4094, 'a') + "\n"));  // 1 byte left
  // A reader (vessel logs --follow) holds the file: the new one cannot reuse its inode.
  auto reader = Fd::open(path, O_RDONLY);
  ASSERT_TRUE(reader);
  struct stat before, after;
  ASSERT_EQ(::fstat(reader->get(), &before), 0);
  ASSERT_TRUE(log->write("after\n"));
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  EXPECT_EQ(read_file(path).value(), "after\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".1"));
}

TEST(RotatingLog, ReopenCarriesOnAndObeysALowerLimit) {
  Dir d;
  std::string path = d.path + "/c.log";
  {
    auto log = RotatingLog::open(path, {4096, 5});
    ASSERT_TRUE(log);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->write(std::string(4095, 'a' + i) + "\n"));
    ASSERT_TRUE(log->write("tail\n"));
  }
  ASSERT_EQ(log_files(path).size(), 5u);
  {
    auto log = RotatingLog::open(path, {4096, 5});  // a restart: appends to the current file
    ASSERT_TRUE(log);
    EXPECT_EQ(log->current_size(), 5u);
    ASSERT_TRUE(log->write("more\n"));
    EXPECT_EQ(read_file(path).value(), "tail\nmore\n");
  }
  {
    auto log = RotatingLog::open(path, {4096, 2});  // fewer files now: the extra ones go at once
    ASSERT_TRUE(log);
    EXPECT_EQ(log_files(path).size(), 2u);
    EXPECT_LE(total(path), 2u * 4096);
  }
  {
    // A current file over the cap (an older vesseld wrote it uncapped) is rotated at open.
    ASSERT_TRUE(write_file(path, std::string(9000, 'z')));
    auto log = RotatingLog::open(path, {4096, 2});
    ASSERT_TRUE(log);
    EXPECT_EQ(log->current_size(), 0u);
  }
}

TEST(RotatingLog, OptionsParseLikeDockersLogOpt) {
  LogLimits l;
  EXPECT_EQ(l.max_size, 10u << 20);
  EXPECT_EQ(l.max_files, 3u);
  ASSERT_TRUE(apply_log_opt("max-size=1m", l));
  ASSERT_TRUE(apply_log_opt("max-file=5", l));
  EXPECT_EQ(l.max_size, 1u << 20);
  EXPECT_EQ(l.max_files, 5u);
  ASSERT_TRUE(apply_log_opt("max-size=64KiB", l));
  EXPECT_EQ(l.max_size, 64u << 10);
  EXPECT_FALSE(apply_log_opt("max-size=10", l));    // below 4096 bytes
  EXPECT_FALSE(apply_log_opt("max-file=0", l));
  EXPECT_FALSE(apply_log_opt("max-file=101", l));
  EXPECT_FALSE(apply_log_opt("mode=non-blocking", l));
  EXPECT_FALSE(apply_log_opt("max-size", l));
  EXPECT_FALSE(RotatingLog::open("/tmp/x.log", {100, 3}));
}

}  // namespace
}  // namespace vessel
