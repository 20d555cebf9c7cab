// linux.seccomp -> a libseccomp filter. compile_seccomp() checks every name (action, arch,
// syscall, operator, flag) before anything is loaded, so a bad profile fails `create` cleanly.
#pragma once

#include "base/error.h"
#include "base/fd.h"
#include "runtime/spec/spec.h"

namespace vessel::runtime {

class SeccompFilter {
 public:
  SeccompFilter() = default;
  SeccompFilter(SeccompFilter&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)), flags_(o.flags_), notify_(o.notify_) {}
  SeccompFilter& operator=(SeccompFilter&& o) noexcept {
    std::swap(ctx_, o.ctx_);
    flags_ = o.flags_;
    notify_ = o.notify_;
    return *this;
  }
  ~SeccompFilter();

  static Result<SeccompFilter> compile(const Seccomp& profile);
  // Loads the filter into the calling thread; returns the notify fd when the profile has
  // SCMP_ACT_NOTIFY rules (invalid Fd otherwise).
  Result<Fd> load();
  bool uses_notify() const { return notify_; }
  // The compiled BPF program, saved at create so that `exec` loads it without recompiling.
  Result<void> export_bpf(const std::string& path) const;
  // The BPF program as bytes (struct sock_filter[]).
  Result<std::string> bpf() const;
  // Kernel filter flags (SECCOMP_FILTER_FLAG_*) the profile asked for.
  unsigned flags() const { return flags_; }

 private:
  void* ctx_ = nullptr;
  unsigned flags_ = 0;
  bool notify_ = false;
};

// Loads a BPF program saved by export_bpf() into the calling thread.
Result<void> load_bpf(const std::string& program, unsigned flags);
Result<unsigned> seccomp_flags(const Seccomp& profile);

// Compiling a large profile with libseccomp takes tens of milliseconds: the program is cached
// in `cache_dir`, keyed by the profile's canonical text (compared in full on a hit).
Result<std::string> compiled_bpf(const Seccomp& profile, const std::string& cache_dir);

// Checks names only (used by `validate` paths and the fuzz target).
Result<void> check_seccomp(const Seccomp& profile);

}  // namespace vessel::runtime
