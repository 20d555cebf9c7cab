#include "files/cp_rules.h"

namespace vessel::files {

namespace {

// Drops trailing "/" and "/." (never the leading "/").
std::string_view trimmed(std::string_view p) {
  for (;;) {
    if (p.size() > 1 && p.back() == '/') {
      p.remove_suffix(1);
    } else if (p.size() > 2 && p.substr(p.size() - 2) == "/.") {
      p.remove_suffix(2);
    } else {
      return p;
    }
  }
}

}  // namespace

Result<CpArg> parse_cp_arg(std::string_view arg) {
  if (arg.empty()) return fail(EINVAL, "an empty path");
  if (arg.find('\0') != std::string_view::npos) return fail(EINVAL, "a path holds a NUL byte");
  size_t colon = arg.find(':');
  size_t slash = arg.find('/');
  // Docker: a ':' before any '/' separates an instance name from its path.
  if (colon == std::string_view::npos || (slash != std::string_view::npos && slash < colon))
    return CpArg{std::nullopt, std::string(arg)};
  std::string name(arg.substr(0, colon));
  std::string path(arg.substr(colon + 1));
  if (name.empty()) return fail(EINVAL, "'{}': no instance name before ':'", arg);
  if (path.empty())
    return fail(EINVAL, "'{}': no path after ':' (use {}:/ for its root)", arg, name);
  return CpArg{std::move(name), std::move(path)};
}

bool names_directory(std::string_view path) {
  return (!path.empty() && path.back() == '/') || names_contents(path);
}

bool names_contents(std::string_view path) {
  return path == "." || (path.size() >= 2 && path.substr(path.size() - 2) == "/.");
}

std::string base_name(std::string_view path) {
  auto p = trimmed(path);
  if (p == "/" || p == ".") return "";
  size_t slash = p.rfind('/');
  return std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
}

std::string dir_name(std::string_view path) {
  auto p = trimmed(path);
  size_t slash = p.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(p.substr(0, slash));
}

Result<CopyPlan> plan_copy(std::string_view src, Kind src_kind, std::string_view dst,
                           Kind dst_kind) {
  if (src_kind == Kind::Missing) return fail(ENOENT, "{}: no such file or directory", src);
  if (src_kind == Kind::File) {
    if (names_directory(src)) return fail(ENOTDIR, "{}: not a directory", src);
    switch (dst_kind) {
      case Kind::Missing:
        if (names_directory(dst))
          return fail(ENOENT, "destination directory {} does not exist", dst);
        return CopyPlan{dir_name(dst), base_name(dst)};
      case Kind::File:
        if (names_directory(dst)) return fail(ENOTDIR, "destination {} is not a directory", dst);
        return CopyPlan{dir_name(dst), base_name(dst)};
      case Kind::Directory:
        return CopyPlan{std::string(dst), base_name(src)};
    }
  }
  switch (dst_kind) {
    case Kind::Missing:  // made as a copy of the source directory
      if (base_name(dst).empty()) return fail(EINVAL, "{}: cannot make this directory", dst);
      return CopyPlan{dir_name(dst), base_name(dst)};
    case Kind::File:
      return fail(EISDIR, "cannot copy a directory to a file: {} is a file", dst);
    case Kind::Directory:
      if (names_contents(src) || base_name(src).empty()) return CopyPlan{std::string(dst), ""};
      return CopyPlan{std::string(dst), base_name(src)};
  }
  return fail(EINVAL, "unknown kind");
}

}  // namespace vessel::files
