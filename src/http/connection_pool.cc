#include "http/connection_pool.h"

#include <curl/curl.h>

namespace vessel::http {

ConnectionPool::~ConnectionPool() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

size_t ConnectionPool::idle() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

void* ConnectionPool::take() {
  std::lock_guard lock(mutex_);
  if (idle_.empty()) return nullptr;
  void* h = idle_.back();  // the most recently used: its connection is the likeliest still open
  idle_.pop_back();
  return h;
}

void ConnectionPool::give(void* curl_handle) {
  auto* h = static_cast<CURL*>(curl_handle);
  curl_easy_reset(h);  // the next request sets its own options; connections and sessions stay
  {
    std::lock_guard lock(mutex_);
    if (idle_.size() < max_idle_) {
      idle_.push_back(h);
      return;
    }
  }
  curl_easy_cleanup(h);
}

}  // namespace vessel::http
