#include "daemon/api/progress_stream.h"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "daemon/api/router.h"

namespace vessel::daemon {

namespace {

struct Job {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::string> lines;
  bool done = false;

  void push(std::string line) {
    std::lock_guard lock(mutex);
    lines.push_back(std::move(line) + "\n");
    cv.notify_all();
  }
};

void run(Job& job, const std::function<Result<json::Json>(const PushStep&)>& work, const std::string& what) {
  // This thread is an edge: nothing may leave it by exception (it would kill vesseld).
  try {
    auto result = work([&](const json::Json& step) { job.push(json::dump(step)); });
    if (result) job.push(json::dump(json::Json{{"result", *result}}));
    else job.push(json::dump(json::parse(Api::error_response(result.error()).body).value_or(json::Json::object())));
  } catch (const std::exception& e) {
    log::error("{} threw: {}", what, e.what());
    job.push(json::dump(json::Json{{"error", fmt::format("internal error in {}, see the log of vesseld", what)}, {"errno", EIO}}));
  }
  std::lock_guard lock(job.mutex);
  job.done = true;
  job.cv.notify_all();
}

}  // namespace

http::Response progress_stream(std::function<Result<json::Json>(const PushStep&)> work, std::string what) {
  auto job = std::make_shared<Job>();
  std::thread([job, work = std::move(work), what = std::move(what)] { run(*job, work, what); }).detach();
  http::Response resp;
  resp.status = 200;
  resp.content_type = "application/x-ndjson";
  resp.stream = [job](std::string& out) {
    std::unique_lock lock(job->mutex);
    job->cv.wait(lock, [&] { return job->done || !job->lines.empty(); });
    while (!job->lines.empty()) {
      out += job->lines.front();
      job->lines.pop_front();
    }
    return !(job->done && job->lines.empty());
  };
  return resp;
}

}  // namespace vessel::daemon
