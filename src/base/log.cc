#include "base/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

namespace vessel::log {

namespace {
std::atomic<Level> g_level{Level::Info};
std::atomic<Format> g_format{Format::Text};
std::atomic<int> g_fd{2};
std::mutex g_mutex;
std::string g_program = "vessel";

const char* level_name(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
    case Level::Off: return "off";
  }
  return "?";
}
}  // namespace

void set_level(Level l) { g_level = l; }
Level level() { return g_level; }
void set_format(Format f) { g_format = f; }
void set_fd(int fd) { g_fd = fd; }
void set_program(std::string name) {
  std::lock_guard lock(g_mutex);
  g_program = std::move(name);
}

bool parse_level(std::string_view text, Level* out) {
  for (Level l : {Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Off}) {
    if (text == level_name(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void write(Level l, std::string_view message) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char stamp[64];
  snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", t.tm_year + 1900,
           t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<long>(tv.tv_usec));
  std::string line;
  std::lock_guard lock(g_mutex);
  if (g_format == Format::Json) {
    nlohmann::json j = {{"time", stamp}, {"level", level_name(l)}, {"program", g_program},
                        {"msg", std::string(message)}};
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else {
    line = fmt::format("{} {} {}: {}\n", stamp, level_name(l), g_program, message);
  }
  (void)!::write(g_fd, line.data(), line.size());
}

}  // namespace vessel::log
