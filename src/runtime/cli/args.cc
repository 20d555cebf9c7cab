#include "runtime/cli/args.h"

#include "runtime/spec/spec.h"

namespace vessel::runtime::cli {

std::string ParsedArgs::get(const std::string& flag, const std::string& fallback) const {
  auto it = values.find(flag);
  if (it == values.end() || it->second.empty()) return fallback;
  return it->second.back();
}

const std::vector<std::string>& ParsedArgs::all(const std::string& flag) const {
  static const std::vector<std::string> none;
  auto it = values.find(flag);
  return it == values.end() ? none : it->second;
}

Result<ParsedArgs> parse_args(const std::vector<std::string>& args, size_t begin,
                              const std::vector<FlagSpec>& flags, size_t stop_after_positional) {
  ParsedArgs out;
  for (size_t i = begin; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (stop_after_positional && out.positional.size() >= stop_after_positional) {
      if (a == "--" && out.positional.size() == stop_after_positional && i + 1 < args.size()) {
        out.positional.insert(out.positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
        break;
      }
      out.positional.insert(out.positional.end(), args.begin() + static_cast<long>(i), args.end());
      break;
    }
    if (a == "--") {
      out.positional.insert(out.positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    std::string name, value;
    bool has_value = false;
    const FlagSpec* spec = nullptr;
    if (a[1] == '-' || a.size() > 2) {
      // "--name", "--name=value"; Go's flag package also takes "-name".
      std::string body = a.substr(a[1] == '-' ? 2 : 1);
      auto eq = body.find('=');
      name = body.substr(0, eq);
      if (eq != std::string::npos) {
        value = body.substr(eq + 1);
        has_value = true;
      }
      for (const auto& f : flags)
        if (name == f.name) spec = &f;
    } else {
      for (const auto& f : flags)
        if (f.short_name == a[1]) spec = &f;
    }
    if (!spec) return hinted(fail(EINVAL, "unknown flag {}", a), "see --help");
    if (spec->takes_value) {
      if (!has_value) {
        if (i + 1 >= args.size()) return fail(EINVAL, "flag --{} needs a value", spec->name);
        value = args[++i];
      }
    } else if (has_value && value != "true" && value != "false") {
      return fail(EINVAL, "flag --{} takes no value", spec->name);
    } else if (has_value && value == "false") {
      continue;
    }
    out.values[spec->name].push_back(value);
  }
  return out;
}

}  // namespace vessel::runtime::cli
