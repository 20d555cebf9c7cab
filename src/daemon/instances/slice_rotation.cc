#include "daemon/instances/slice_rotation.h"

#include "base/log.h"

namespace vessel::daemon {

using Clock = std::chrono::steady_clock;

SliceRotation::SliceRotation(std::string pool, Write write) : pool_(std::move(pool)), write_(std::move(write)) {
  thread_ = std::thread([this] { run(); });
}

SliceRotation::~SliceRotation() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void SliceRotation::set(SliceSchedule next) {
  {
    std::lock_guard lock(mutex_);
    pending_ = std::move(next);
  }
  wake_.notify_all();
}

SliceSchedule SliceRotation::schedule() const {
  std::lock_guard lock(mutex_);
  return pending_ ? *pending_ : current_;
}

void SliceRotation::write_all(const std::vector<LimitWrite>& writes) {
  for (const auto& w : writes) {
    auto written = write_(w);
    // ENOENT: a member that just stopped; its pool is re-applied without it at once.
    if (written || written.error().errnum() == ENOENT || warned_) continue;
    log::warn("pool {}: timeslice turn: {}", pool_, written.error().to_string());
    warned_ = true;
  }
}

void SliceRotation::run() {
  size_t turn = 0;
  auto due = Clock::time_point::max();
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_until(lock, due, [&] { return stop_ || pending_ || Clock::now() >= due; });
    if (stop_) break;
    if (pending_) {
      SliceSchedule next = std::move(*pending_);
      pending_.reset();
      if (next == current_) {  // re-applied: the turn in force is written again, in its rhythm
        lock.unlock();
        write_all(turn_writes(current_, std::nullopt, turn));
        lock.lock();
        continue;
      }
      auto restore = restore_writes(current_, &next);
      current_ = std::move(next);
      warned_ = false;
      lock.unlock();
      write_all(restore);
      write_all(turn_writes(current_, std::nullopt, 0));
      lock.lock();
      turn = 0;
      // One member (or none) holds the CPUs for good: nothing to rotate.
      due = current_.members.size() < 2 ? Clock::time_point::max()
                                        : Clock::now() + std::chrono::nanoseconds(current_.members[0].slice_ns);
      continue;
    }
    if (current_.members.size() < 2) {
      due = Clock::time_point::max();
      continue;
    }
    size_t to = (turn + 1) % current_.members.size();
    lock.unlock();
    write_all(turn_writes(current_, turn, to));
    lock.lock();
    turn = to;
    due += std::chrono::nanoseconds(current_.members[to].slice_ns);
    // Far behind (a stalled host): start the turn afresh rather than rush through the missed ones.
    if (auto now = Clock::now(); due < now) due = now + std::chrono::nanoseconds(current_.members[to].slice_ns);
  }
  auto restore = restore_writes(current_, nullptr);
  lock.unlock();
  write_all(restore);
}

}  // namespace vessel::daemon
