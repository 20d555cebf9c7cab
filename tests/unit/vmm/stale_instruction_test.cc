#include "vmm/vcpu/stale_instruction.h"

#include <gtest/gtest.h>

namespace vessel::vmm {
namespace {

TEST(StaleInstructionRetry, AFirstFailureIsRetriedOnce) {
  StaleInstructionRetry retry;
  retry.on_exit();
  EXPECT_TRUE(retry.should_retry(0xffffffff811065d2));
}

TEST(StaleInstructionRetry, TheSameFailureOnTheVeryNextExitIsReal) {
  StaleInstructionRetry retry;
  retry.on_exit();
  ASSERT_TRUE(retry.should_retry(0x1000));
  retry.on_exit();
  EXPECT_FALSE(retry.should_retry(0x1000));
}

TEST(StaleInstructionRetry, AnotherRipOnTheNextExitIsANewFailure) {
  StaleInstructionRetry retry;
  retry.on_exit();
  ASSERT_TRUE(retry.should_retry(0x1000));
  retry.on_exit();
  EXPECT_TRUE(retry.should_retry(0x2000));
  retry.on_exit();
  EXPECT_FALSE(retry.should_retry(0x2000));
}

TEST(StaleInstructionRetry, TheSameRipAfterTheVcpuRanOnIsRetriedAgain) {
  StaleInstructionRetry retry;
  retry.on_exit();
  ASSERT_TRUE(retry.should_retry(0x1000));
  retry.on_exit();  // an I/O exit: the vCPU went past the instruction
  retry.on_exit();
  EXPECT_TRUE(retry.should_retry(0x1000));
}

}  // namespace
}  // namespace vessel::vmm
