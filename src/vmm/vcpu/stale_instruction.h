// When KVM gives up on an instruction (KVM_EXIT_INTERNAL_ERROR) and our emulator cannot handle
// what it fetches at RIP, the bytes may have changed since KVM looked: Linux rewrites live kernel
// text on another vCPU (jump labels, static calls) with text_poke_bp, which parks an int3 on the
// first byte while it writes the rest. KVM saw the int3; we fetch the finished instruction (seen on
// PVM: `eb 19` becoming `66 90` during a 2-vCPU boot). Re-entering lets KVM look again. When the
// very next exit is the same failure at the same RIP, the instruction is really one nobody can run.
#pragma once

#include <cstdint>
#include <optional>

namespace vessel::vmm {

class StaleInstructionRetry {
 public:
  // Called for every exit, before it is handled.
  void on_exit() { ++exits_; }

  // Called when the instruction at `rip` could not be emulated: true means re-enter the vCPU once.
  bool should_retry(uint64_t rip) {
    bool again = last_ && last_->rip == rip && last_->exit == exits_ - 1;
    if (again) {
      last_.reset();
      return false;
    }
    last_ = Failure{rip, exits_};
    return true;
  }

 private:
  struct Failure {
    uint64_t rip;
    uint64_t exit;
  };
  uint64_t exits_ = 0;
  std::optional<Failure> last_;
};

}  // namespace vessel::vmm
