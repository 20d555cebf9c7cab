#include "copy_sampler.h"

#include <algorithm>

#include "cluster_fixture.h"

namespace vessel::test {

CopySampler::CopySampler(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  thread_ = std::thread([this] { run(); });
}

CopySampler::~CopySampler() {
  stop_.stop();
  thread_.join();
}

void CopySampler::run() {
  do {
    CopySample s;
    auto found = copies_of(tokens_);
    s.at = Clock::now();  // after the scan: a copy seen is there at this time
    for (const auto& pids : found) s.counts.push_back(pids.size());
    std::lock_guard lock(mutex_);
    samples_.push_back(std::move(s));
  } while (!stop_.wait_for(std::chrono::milliseconds(50)));
}

std::vector<CopySample> CopySampler::since(Clock::time_point from) const {
  std::lock_guard lock(mutex_);
  std::vector<CopySample> out;
  for (const auto& s : samples_)
    if (s.at >= from) out.push_back(s);
  return out;
}

CopySample CopySampler::latest() const {
  std::lock_guard lock(mutex_);
  return samples_.empty() ? CopySample{} : samples_.back();
}

void CopySampler::forget_before(Clock::time_point from) {
  std::lock_guard lock(mutex_);
  samples_.erase(std::remove_if(samples_.begin(), samples_.end(), [&](const CopySample& s) { return s.at < from; }),
                 samples_.end());
}

}  // namespace vessel::test
