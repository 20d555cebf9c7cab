// `vessel events` recorded into a file for the whole test, read back per instance.
#pragma once

#include <fcntl.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "base/json.h"
#include "base/process.h"
#include "daemon_fixture.h"

namespace vessel::test {

class EventLog {
 public:
  EventLog(const Daemon& d, const std::string& path) : path_(path) {
    Fd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    SpawnOptions o;
    o.stdout_fd = out.get();
    auto p = Process::spawn({vessel_path(), "--socket", d.socket(), "events"}, o);
    EXPECT_TRUE(p) << p.error().to_string();
    if (p) process_ = std::move(*p);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // subscribed before anything happens
  }
  // The events about `name`, in order.
  std::vector<json::Json> of(const std::string& name) const {
    std::vector<json::Json> out;
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line))
      if (auto j = json::parse(line); j && j->value("name", "") == name) out.push_back(*j);
    return out;
  }

 private:
  std::string path_;
  Process process_;
};

}  // namespace vessel::test
