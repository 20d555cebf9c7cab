#include "base/cli.h"
#include "base/error.h"

#include <gtest/gtest.h>

namespace vessel {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return fail(EINVAL, "value {} is not positive", v);
  return v;
}

Result<int> doubled(int v) {
  int x = TRY_CTX(parse_positive(v), "doubling {}", v);
  return 2 * x;
}

Result<void> open_kvm() {
  errno = EACCES;
  return Unexpected(Error::from_errno("cannot open /dev/kvm")
                        .with_hint("is the kvm module loaded? try 'vessel host check'"));
}

TEST(Error, ContextChainIsPrintedOutermostFirst) {
  auto r = doubled(-3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EINVAL);
  EXPECT_EQ(r.error().to_string(), "doubling -3: value -3 is not positive");
  auto outer = std::move(r).error().add_context("start VM");
  EXPECT_EQ(outer.to_string(), "start VM: doubling -3: value -3 is not positive");
}

TEST(Error, TryPassesValuesThrough) {
  auto r = doubled(21);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 42);
}

TEST(Error, CliFormatHasProgramMessageAndHint) {
  auto r = open_kvm();
  ASSERT_FALSE(r);
  EXPECT_EQ(cli::format_error("vessel-vmm", r.error()),
            "vessel-vmm: error: cannot open /dev/kvm: Permission denied (is the kvm module "
            "loaded? try 'vessel host check')");
}

TEST(Error, StrerrorOnlyWhenACallReportedTheErrno) {
  // vessel's own errors say what is wrong; the errno is their category (exit code, HTTP status).
  EXPECT_EQ(Error(ENOENT, "no instance named x").to_string(), "no instance named x");
  EXPECT_FALSE(Error(ENOENT, "no instance named x").shows_errno());
  // A failed call: its errno is the only word on the cause.
  EXPECT_EQ(Error::system(ENOENT, "open /x").to_string(), "open /x: No such file or directory");
  errno = EACCES;
  auto failed = fail_errno("open {}", "/y");
  EXPECT_EQ(failed.value().to_string(), "open /y: Permission denied");
  EXPECT_EQ(fail_system(EPERM, "load seccomp filter").value().to_string(), "load seccomp filter: Operation not permitted");
  // Kept through context and copies.
  Error copy = Error::system(EIO, "read disk").add_context("boot");
  EXPECT_EQ(copy.to_string(), "boot: read disk: Input/output error");
}

TEST(Error, NoErrnoMeansNoStrerror) {
  Error e(0, "plain");
  EXPECT_EQ(e.to_string(), "plain");
}

}  // namespace
}  // namespace vessel
