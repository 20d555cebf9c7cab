// Logging with levels to stderr, as text or as JSON lines (one object per line, for collectors).
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace vessel::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };
enum class Format { Text, Json };

void set_level(Level level);
Level level();
void set_format(Format format);
// The program name printed on each text line ("vessel-vmm").
void set_program(std::string name);
// Redirects log output to a file descriptor (default 2).
void set_fd(int fd);
// Parses "debug|info|warn|error|off"; returns false on anything else.
bool parse_level(std::string_view text, Level* out);

void write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::Debug) write(Level::Debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::Info) write(Level::Info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::Warn) write(Level::Warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::Error) write(Level::Error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace vessel::log
