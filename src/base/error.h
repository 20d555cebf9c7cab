// Error and Result<T>: the one way vessel reports failure (docs/design.md, rule 1).
//
// An Error carries the errno that caused it (0 when none), a message, a chain of context strings
// added as it travels up ("open drive rootfs" -> "start VM"), and an optional hint that tells a
// user what to do about it.
//
// The errno's text (strerror) is printed only when a system or library call reported it
// (Error::system, Error::from_errno, fail_errno, fail_system): then it is the cause, and only it
// says what went wrong. An error vessel raises itself (fail(ENOENT, "no instance named x"))
// says so in its message; its errno is the category that picks an exit code or an HTTP status,
// and "No such file or directory" after it would only confuse.
#pragma once

#include <fmt/format.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace vessel {

class Error {
 public:
  // An error vessel raises: `message` says what is wrong; `errnum` is its category.
  Error(int errnum, std::string message) : errnum_(errnum), message_(std::move(message)) {}

  // A system or library call failed with `errnum`: "what: strerror(errnum)".
  static Error system(int errnum, std::string what) {
    Error e(errnum, std::move(what));
    e.shows_errno_ = true;
    return e;
  }
  // An error for a failed system call: errno is read now, so call this first thing after it.
  static Error from_errno(std::string what) { return system(errno, std::move(what)); }

  int errnum() const { return errnum_; }
  const std::string& message() const { return message_; }
  const std::string& hint() const { return hint_; }
  const std::vector<std::string>& context() const { return context_; }

  // Adds an outer context ("while doing X"); the outermost is printed first.
  Error& add_context(std::string what) & {
    context_.push_back(std::move(what));
    return *this;
  }
  Error&& add_context(std::string what) && {
    context_.push_back(std::move(what));
    return std::move(*this);
  }
  Error&& with_hint(std::string hint) && {
    hint_ = std::move(hint);
    return std::move(*this);
  }

  // "outer: inner: message", and ": strerror(errno)" when a call reported the errno.
  std::string to_string() const;
  bool shows_errno() const { return shows_errno_; }

 private:
  int errnum_ = 0;
  bool shows_errno_ = false;
  std::string message_;
  std::vector<std::string> context_;
  std::string hint_;
};

template <typename T>
using Result = tl::expected<T, Error>;

using Unexpected = tl::unexpected<Error>;

// fail(EINVAL, "bad size {}", n): an unexpected Error with a formatted message.
template <typename... Args>
Unexpected fail(int errnum, fmt::format_string<Args...> format, Args&&... args) {
  return Unexpected(Error(errnum, fmt::format(format, std::forward<Args>(args)...)));
}

// fail_errno("open {}", path): reads errno now.
template <typename... Args>
Unexpected fail_errno(fmt::format_string<Args...> format, Args&&... args) {
  int saved = errno;
  return Unexpected(Error::system(saved, fmt::format(format, std::forward<Args>(args)...)));
}

// fail_system(-rc, "load seccomp filter"): a call that returned its errno.
template <typename... Args>
Unexpected fail_system(int errnum, fmt::format_string<Args...> format, Args&&... args) {
  return Unexpected(Error::system(errnum, fmt::format(format, std::forward<Args>(args)...)));
}

namespace detail {
template <typename T>
T take_value(tl::expected<T, Error>&& r) {
  return std::move(r).value();
}
inline void take_value(tl::expected<void, Error>&&) {}
}  // namespace detail

}  // namespace vessel

// TRY(expr): evaluates a Result; on error returns it from the enclosing function, otherwise
// yields the value (GCC/Clang statement expression, as in SerenityOS's TRY).
#define TRY(...)                                                      \
  ({                                                                  \
    auto _vessel_try = (__VA_ARGS__);                                 \
    if (!_vessel_try) return ::vessel::Unexpected(std::move(_vessel_try).error()); \
    ::vessel::detail::take_value(std::move(_vessel_try));             \
  })

// TRY_CTX(expr, "context"): like TRY, adding a context string to the error on the way out.
#define TRY_CTX(expr, ...)                                                             \
  ({                                                                                   \
    auto _vessel_try = (expr);                                                         \
    if (!_vessel_try)                                                                  \
      return ::vessel::Unexpected(                                                     \
          std::move(_vessel_try).error().add_context(fmt::format(__VA_ARGS__)));       \
    ::vessel::detail::take_value(std::move(_vessel_try));                              \
  })
